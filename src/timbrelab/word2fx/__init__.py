"""Word → effect models: predict EQ curves and reverb settings for words nobody rated (Venkatesh et al. 2022)."""
