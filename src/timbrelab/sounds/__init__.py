"""Instrument sounds from General-MIDI soundfonts: the training and test data of every timbrelab model.

- ``catalogue``: the soundfonts on this machine and the train/test split by soundfont;
- ``taxonomy``: instrument classes over GM programs, with pitch ranges, families and text labels;
- ``render``: FluidSynth rendering of notes and short melodic phrases, deterministic from a seed;
- ``datasets``: note, phrase and mixture data sets, built once and cached with a manifest;
- ``recordings``: a small list of real, labelled instrument recordings from Debian packages.
"""
