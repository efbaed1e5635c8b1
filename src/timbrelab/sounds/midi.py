"""A small Standard MIDI File writer: format 0, one track, enough for TiMidity++ to play a performance.

Time base: 480 ticks per quarter note at 120 BPM (the tempo is written as a meta event), so one
second is :data:`TICKS_PER_S` = 960 ticks and an event time is rounded to about 1 ms. Deltas are
variable-length quantities (VLQ). The messages this project needs:

- ``note_on(channel, pitch, velocity)`` / ``note_off(channel, pitch)``
- ``program_change(channel, program)`` (GM programs 0-based)
- ``control_change(channel, controller, value)`` (CC1 modulation, CC7 volume, CC11 expression …)
- ``pitch_bend(channel, value)`` (-8192 … 8191, 0 = no bend; with the GM default range ±2 semitones)
- ``all_sounds_off(channel)`` (CC120) and ``reset_controllers(channel)`` (CC121)

``midi_file(events, end_s)`` takes ``(time_s, message_bytes)`` pairs (any order: sorted stably by
time, so events at the same time keep the order given) and returns the bytes of a ``.mid`` file whose
track ends at ``end_s``. Channels are 0-based (channel 9 is GM's drum channel 10).
"""

from __future__ import annotations

import struct

from timbrelab.errors import BadParameterError

TICKS_PER_QUARTER = 480
TEMPO_US_PER_QUARTER = 500_000  # 120 BPM
TICKS_PER_S = TICKS_PER_QUARTER * 1_000_000 // TEMPO_US_PER_QUARTER  # 960
DRUM_CHANNEL = 9


def vlq(n: int) -> bytes:
    """``n`` (0 … 2^28 − 1) as a MIDI variable-length quantity: 7 bits a byte, high bit = more follows."""
    if not (0 <= n < 1 << 28):
        raise BadParameterError(f"a MIDI time of {n} ticks is out of range")
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def _check(channel: int, *data: int) -> None:
    if not 0 <= channel <= 15:
        raise BadParameterError(f"MIDI channel {channel} is out of range (0 … 15)")
    for d in data:
        if not 0 <= d <= 127:
            raise BadParameterError(f"MIDI data byte {d} is out of range (0 … 127)")


def note_on(channel: int, pitch: int, velocity: int) -> bytes:
    _check(channel, pitch, velocity)
    return bytes((0x90 | channel, pitch, velocity))


def note_off(channel: int, pitch: int) -> bytes:
    _check(channel, pitch)
    return bytes((0x80 | channel, pitch, 0))


def program_change(channel: int, program: int) -> bytes:
    _check(channel, program)
    return bytes((0xC0 | channel, program))


def control_change(channel: int, controller: int, value: int) -> bytes:
    _check(channel, controller, value)
    return bytes((0xB0 | channel, controller, value))


def pitch_bend(channel: int, value: int) -> bytes:
    """Pitch bend ``value`` in −8192 … 8191 (0 = centre), written as the 14-bit 0 … 16383."""
    _check(channel)
    v = max(0, min(16383, int(value) + 8192))
    return bytes((0xE0 | channel, v & 0x7F, v >> 7))


def all_sounds_off(channel: int) -> bytes:
    return control_change(channel, 120, 0)


def reset_controllers(channel: int) -> bytes:
    return control_change(channel, 121, 0)


def seconds_to_ticks(time_s: float) -> int:
    return int(round(float(time_s) * TICKS_PER_S))


def midi_file(events, end_s: float | None = None) -> bytes:
    """A format-0 Standard MIDI File of ``events`` (``(time_s, message)`` pairs); the track ends at
    ``end_s`` (default: the last event)."""
    timed = sorted(((seconds_to_ticks(t), i, bytes(m)) for i, (t, m) in enumerate(events)), key=lambda x: (x[0], x[1]))
    if any(t < 0 for t, _, _ in timed):
        raise BadParameterError("a MIDI event cannot happen before time 0")
    end = max(seconds_to_ticks(end_s) if end_s is not None else 0, timed[-1][0] if timed else 0)
    track = bytearray()
    track += vlq(0) + b"\xff\x51\x03" + TEMPO_US_PER_QUARTER.to_bytes(3, "big")  # tempo
    now = 0
    for tick, _, msg in timed:
        track += vlq(tick - now) + msg
        now = tick
    track += vlq(end - now) + b"\xff\x2f\x00"  # end of track
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)
