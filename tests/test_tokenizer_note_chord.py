"""The note_chord tokenizer on its own: daemon-side, so no TensorFlow and no music21 here."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from improvd.daemon.events import Event, events_to_notes
from improvd.daemon.tokenizers import from_spec
from improvd.daemon.tokenizers.note_chord import NoteChordTokenizer, note_name_to_midi

VOCAB = ["0.4.7", "11.2.5", "7", "C4", "C#4", "D-4", "E-5", "G4", "B#3"]


def tok(**kw) -> NoteChordTokenizer:
    return NoteChordTokenizer(VOCAB, **kw)


def test_note_names_follow_music21_spelling():
    assert note_name_to_midi("C4") == 60
    assert note_name_to_midi("C#4") == note_name_to_midi("D-4") == 61
    assert note_name_to_midi("B#3") == 60  # B#3 sounds as C4
    assert note_name_to_midi("E--5") == 74
    assert note_name_to_midi("A") == 69  # no octave: music21's default octave 4
    with pytest.raises(ValueError, match="not a note name"):
        note_name_to_midi("H4")


def test_spec_round_trip_through_the_registry():
    t = tok(tempo_bpm=90, beats_per_token=1.0)
    again = from_spec(t.spec())
    assert isinstance(again, NoteChordTokenizer)
    assert again.vocabulary == VOCAB and again.seconds_per_token == pytest.approx(60 / 90)


@pytest.mark.parametrize("bad, match", [
    ({"vocabulary": []}, "non-empty"),
    ({"vocabulary": ["C4", "C4"]}, "duplicate"),
    ({"vocabulary": ["C4", "X9"]}, "not a note name"),
    ({"vocabulary": ["0.13"]}, "not a chord token"),
    ({"vocabulary": ["C4"], "vocab_size": 3}, "vocab_size 3"),
    ({"vocabulary": ["C4"], "velocity": 0}, "velocity"),
    ({"tempo_bpm": 120}, "no 'vocabulary'"),
])
def test_bad_specs_are_refused_with_the_reason(bad, match):
    with pytest.raises(ValueError, match=match):
        NoteChordTokenizer.from_spec({"name": "note_chord", **bad})


def test_decode_plays_each_token_for_an_eighth_at_120_bpm():
    t = tok()
    ids = [t.ids["C4"], t.ids["0.4.7"], t.ids["E-5"]]
    notes = events_to_notes(t.decode(ids, start_time=1.0))
    assert [(n.pitch, n.start) for n in notes] == [
        (60, 1.0), (60, 1.25), (64, 1.25), (67, 1.25), (75, 1.5)]
    assert all(n.end - n.start == pytest.approx(0.9 * 0.25) for n in notes)
    assert {n.velocity for n in notes} == {80}


def test_streaming_decoder_keeps_its_clock_and_closes_its_notes():
    t = tok(beats_per_token=1.0)
    dec = t.decoder(start_time=10.0)
    first = dec.push(t.ids["11.2.5"])
    assert [e.pitch for e in first if e.is_note_on] == [71, 62, 65]
    assert [e.time for e in first if e.is_note_off] == pytest.approx([10.45] * 3)
    assert dec.time == pytest.approx(10.5)
    assert dec.push(t.ids["G4"])[0] == Event(10.5, "note_on", 67, 80)
    assert dec.close_all() == []


def test_onsets_within_the_window_make_one_chord_token():
    t = tok()
    played = [Event(0.0, "note_on", 64, 90), Event(0.02, "note_on", 60, 90),
              Event(0.03, "note_on", 79, 90),  # G5: pitch classes {0, 4, 7}
              Event(0.4, "note_off", 60, 0), Event(0.5, "note_on", 61, 70),
              Event(1.0, "note_on", 67, 70)]
    assert [t.vocabulary[i] for i in t.encode(played)] == ["0.4.7", "C#4", "G4"]


def test_streaming_encoder_emits_a_group_when_a_later_event_arrives():
    t = tok()
    enc = t.encoder()
    assert enc.push(Event(0.0, "note_on", 60, 90)) == []
    assert enc.push(Event(0.01, "note_on", 64, 90)) == []
    # {0, 4} is not in the vocabulary: the chord sharing most pitch classes stands in for it.
    assert enc.push(Event(0.3, "note_off", 60, 0)) == [t.ids["0.4.7"]]
    assert enc.push(Event(0.31, "note_on", 67, 90)) == []
    assert enc.flush() == [t.ids["G4"]] and enc.flush() == []


def test_unknown_material_maps_to_the_nearest_known_token():
    t = tok()
    assert t.token_for_pitches([61]) == t.ids["C#4"]  # first spelling in the vocabulary
    assert t.token_for_pitches([72]) == t.ids["C4"]  # same pitch class, nearest octave
    assert t.token_for_pitches([66]) in {t.ids["G4"], t.ids["E-5"], t.ids["C#4"]}
    assert t.token_for_pitches([55, 67]) == t.ids["7"]  # octave doubling: the singleton chord
    assert t.token_for_pitches([71, 62, 65, 69]) == t.ids["11.2.5"]  # most shared classes


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(21, 108), min_size=1, max_size=6))
def test_any_heard_pitches_give_a_token_that_decodes_to_notes(pitches):
    t = tok()
    token = t.token_for_pitches(pitches)
    assert 0 <= token < t.vocab_size
    events = t.decode([token])
    assert sum(e.is_note_on for e in events) == sum(e.is_note_off for e in events) >= 1


def test_describe():
    t = tok()
    assert t.describe(t.ids["0.4.7"]) == ("chord", "0.4.7")
    assert t.describe(t.ids["E-5"]) == ("note", "E-5")
    with pytest.raises(ValueError, match="outside"):
        t.describe(len(VOCAB))
