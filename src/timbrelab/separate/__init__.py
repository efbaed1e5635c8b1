"""Separate: extract a named instrument from a mix (a text-queried mask network; seed 002, AudioSep-style).

``timbrelab.models.load("separator").separate(audio, sample_rate, ["the violin"])``; files of any
length: :func:`timbrelab.separate.stream.separate_file`.
"""
