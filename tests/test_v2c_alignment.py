"""v2c_bridge: sliding windows, the emotion track, mel-frame arithmetic, audio, pooling, align."""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import librosa
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from emotion_encoder.timing import Segment
from v2c_bridge import (AlignmentError, EmotionTrack, Interval, MelConditioning, SlidingWindow,
                        align, align_to_mel, audio_of_video, emotion_runs, load_track,
                        mel_frame_count, mel_frame_times, mel_frames_for, mel_window,
                        pool_interval, video_frame_indices)
from v2c_bridge.mel import as_fraction, probe
from v2c_bridge.pooling import clip_weights

LABELS = ("happiness", "sadness", "neutral")
SHARED_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


def clips(n: int = 8, window: float = 2.0, step: float = 1.0, no_face: tuple[int, ...] = (),
          d: int = 4, steps: int = 4, seed: int = 0) -> EmotionTrack:
    """Encoder-like output built from numpy: sliding clips, zero rows where there is no face."""
    rng = np.random.default_rng(seed)
    starts = np.arange(n) * step
    face = np.ones(n, bool)
    face[list(no_face)] = False
    emb = rng.normal(size=(n, d)).astype(np.float32)
    logits = rng.normal(size=(n, len(LABELS)))
    probs = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    att = rng.random((n, steps)).astype(np.float32)
    att /= att.sum(1, keepdims=True)
    for a in (emb, probs, att):
        a[~face] = 0
    return EmotionTrack(starts, starts + window, emb, has_face=face, probs=probs, attention=att,
                        labels=LABELS, video="clip.mp4", preset="default")


# ---------------------------------------------------------------- SlidingWindow

def test_sliding_window_frames():
    w = SlidingWindow(start=0.5, duration=2.0, step=1.0)
    assert w[0] == Segment(0.5, 2.5) and w[3] == Segment(3.5, 5.5)
    assert w.middle(1) == 2.5 and w.closest_frame(2.4) == 1 and w.closest_frame(2.6) == 1
    assert list(w.crop(Segment(2.5, 3.5), "loose")) == [1, 2]  # frame 0 ends at 2.5
    assert list(w.crop(Segment(1.5, 5.5), "strict")) == [1, 2, 3]
    assert list(w.crop(Segment(1.5, 3.5), "center")) == [0, 1]
    assert list(w.crop(Segment(2.5, 2.5), "loose")) == [1, 2]  # a point: frames holding it
    assert w.samples(4.0) == 3 and w.samples(4.0, "center") == 3
    with pytest.raises(ValueError):
        SlidingWindow(step=0)
    with pytest.raises(ValueError):
        w.crop(Segment(0, 1), "inside")


@settings(max_examples=200, deadline=None)
@given(start=st.floats(-5, 5), duration=st.floats(0.001, 3), step=st.floats(0.001, 2),
       a=st.floats(-10, 20), length=st.floats(0, 10),
       mode=st.sampled_from(["loose", "strict", "center"]))
def test_sliding_window_crop_matches_brute_force(start, duration, step, a, length, mode):
    w = SlidingWindow(start, duration, step)
    seg = Segment(a, a + length)
    got = w.crop(seg, mode)
    last = int((seg.end - start) / step) + 3
    expected = []
    for i in range(0, max(last, 0)):
        s, e = start + i * step, start + i * step + duration
        if mode == "strict":
            ok = s >= seg.start and e <= seg.end
        elif mode == "center":
            ok = seg.start <= s + 0.5 * duration < seg.end
        elif seg.duration > 0:
            ok = s < seg.end and e > seg.start
        else:
            ok = s <= seg.start < e
        if ok:
            expected.append(i)
    assert list(got) == expected


# ---------------------------------------------------------------- mel-frame arithmetic

def librosa_frames(n_samples: int, sr: int, hop: int, n_fft: int, center: bool) -> int:
    """librosa's own count; 0 where it refuses a signal shorter than one window."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return librosa.feature.melspectrogram(
                y=np.zeros(n_samples, np.float32), sr=sr, hop_length=hop, n_fft=n_fft,
                center=center, n_mels=4).shape[-1]
        except librosa.ParameterError:
            return 0


def librosa_util_frames(n_samples: int, hop: int, n_fft: int, center: bool) -> int:
    """``librosa.util.frame`` over the signal padded as ``center`` pads it; 0 where too short."""
    y = np.zeros(n_samples + (2 * (n_fft // 2) if center else 0), np.float32)
    try:
        return librosa.util.frame(y, frame_length=n_fft, hop_length=hop).shape[-1]
    except librosa.ParameterError:
        return 0


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 6000), sr=st.sampled_from([8000, 16000, 22050, 24000, 44100, 48000]),
       hop=st.integers(1, 700), n_fft=st.integers(1, 2048), center=st.booleans())
def test_mel_frame_count_equals_librosa(n, sr, hop, n_fft, center):
    count = mel_frame_count(n, sr, hop, n_fft, center)
    assert count == librosa_util_frames(n, hop, n_fft, center)
    if n_fft > 1 or not center:  # librosa's stft fails on any input for n_fft=1, center=True
        assert count == librosa_frames(n, sr, hop, n_fft, center)


@pytest.mark.parametrize("n,hop,n_fft,center,expected", [
    (0, 256, 1024, True, 1), (0, 256, 1024, False, 0), (1023, 256, 1024, False, 0),
    (1024, 256, 1024, False, 1), (3, 3, 7, True, 1), (0, 3, 7, True, 0),
    (22050, 256, 1024, True, 87), (22050, 256, 1024, False, 83)])
def test_mel_frame_count_edge_cases(n, hop, n_fft, center, expected):
    assert mel_frame_count(n, 22050, hop, n_fft, center) == expected
    assert librosa_frames(n, 22050, hop, n_fft, center) == expected


def test_mel_frame_count_rejects_bad_parameters():
    for args in [(-1, 22050, 256, 1024), (10, 0, 256, 1024), (10, 22050, 0, 1024),
                 (10, 22050, 256, 0)]:
        with pytest.raises(ValueError):
            mel_frame_count(*args)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 3000), sr=st.sampled_from([16000, 22050, 24000, 44100]),
       hop=st.integers(1, 600), n_fft=st.integers(1, 2048), center=st.booleans())
def test_mel_frame_times_match_librosa_and_increase(n, sr, hop, n_fft, center):
    times = mel_frame_times(n, sr, hop, n_fft, center)
    expected = librosa.frames_to_time(np.arange(n), sr=sr, hop_length=hop,
                                      n_fft=None if center else n_fft)
    np.testing.assert_allclose(times, expected, rtol=1e-12, atol=1e-12)
    assert np.all(np.diff(times) > 0)
    middles = [mel_window(sr, hop, n_fft, center).middle(i) for i in range(min(n, 5))]
    np.testing.assert_allclose(middles, times[:5], atol=1e-9)


def test_mel_window_crops_a_word_to_its_frames():
    window = mel_window(22050, 256, 1024, True)
    frames = window.crop(Segment(1.0, 1.5), "center")
    times = mel_frame_times(200, 22050, 256)
    assert list(frames) == list(np.flatnonzero((times >= 1.0) & (times < 1.5)))


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 3000), sr=st.sampled_from([16000, 22050, 44100, 48000]),
       hop=st.integers(1, 512), center=st.booleans(),
       fps=st.sampled_from(["30000/1001", "24000/1001", "25", "2997/100", "60000/1001"]))
def test_video_frame_indices_are_exact(n, sr, hop, center, fps):
    got = video_frame_indices(n, fps, sr, hop, 1024, center)
    rate = Fraction(fps)
    offset = 0 if center else 512
    expected = [int(Fraction(i * hop + offset, sr) * rate) for i in range(n)]
    assert got.tolist() == expected
    assert np.all(np.diff(got) >= 0)


def test_video_frames_at_29_97_fps_rounding():
    # 16 kHz, hop 160: mel frame 7007 is at 70.07 s, exactly where NTSC frame 2100 starts
    # (2100 * 1001 / 30000); float arithmetic lands just below and says 2099
    assert int(np.floor(7007 * 160 / 16000 * (30000 / 1001))) == 2099
    assert video_frame_indices(7008, 30000 / 1001, 16000, 160)[7007] == 2100
    assert video_frame_indices(7008, "30000/1001", 16000, 160)[7006] == 2099
    assert as_fraction(29.97002997002997) == Fraction(30000, 1001)
    assert as_fraction(29.97) == Fraction(2997, 100)
    assert as_fraction(23.976023976023978) == Fraction(24000, 1001)
    with pytest.raises(ValueError):
        as_fraction(0)
    # 22050/256 mel frames per second against 29.97 video fps: 2.87 mel frames per video frame
    per_video_frame = np.bincount(video_frame_indices(8613, "30000/1001", 22050, 256))
    assert set(per_video_frame[:-1]) == {2, 3}


# ---------------------------------------------------------------- the emotion track

def test_track_of_encoder_like_clips_and_gaps():
    track = clips(n=8, window=1.6, step=0.8, no_face=(3, 4))
    assert len(track) == 8 and track.dim == 4 and track.labels == LABELS
    assert track.extent == Segment(0.0, 7 * 0.8 + 1.6)
    assert track.gaps == [Segment(3.2, 4.0)]
    assert track.clip_labels[3] is None and track.clip_labels[0] in LABELS
    assert track.confidence[3] == 0 and 0 < track.confidence[0] <= 1
    values, mask = track.at([3.0, 3.5, 3.99, 4.0], mode="linear")
    assert mask.tolist() == [True, False, False, True]
    assert np.isnan(values[1:3]).all() and np.isfinite(values[[0, 3]]).all()


def test_track_from_arrays_defaults_no_face_to_zero_rows():
    emb = np.array([[1, 0], [0, 0], [0, 1]], np.float32)
    track = EmotionTrack.from_window(emb, SlidingWindow(0, 1.0, 1.0))
    assert track.has_face.tolist() == [True, False, True]
    assert track.gaps == [Segment(1.0, 2.0)] and track.clip_labels == [None] * 3


def test_track_rejects_bad_arrays():
    with pytest.raises(AlignmentError, match="clip.mp4: starts has 2 rows"):
        EmotionTrack([0, 1], [1, 2], np.zeros((3, 2)), video="clip.mp4")
    with pytest.raises(AlignmentError, match="clip 1 ends before it starts"):
        EmotionTrack([0, 2], [1, 1], np.ones((2, 2)))
    with pytest.raises(AlignmentError, match="labels"):
        EmotionTrack([0], [1], np.ones((1, 2)), probs=np.ones((1, 3)), labels=("a",))


def test_track_crop_modes():
    track = clips(n=6)  # [i, i + 2)
    assert track.crop(Segment(2.5, 3.5), "loose").starts.tolist() == [1.0, 2.0, 3.0]
    assert track.crop(Segment(1.0, 4.0), "strict").starts.tolist() == [1.0, 2.0]
    assert track.crop(Segment(1.5, 3.5), "center").starts.tolist() == [1.0, 2.0]


def test_linear_is_linear_interpolation_between_clip_middles():
    emb = clips(n=10, window=1.6, step=0.8)
    track = emb
    middles = (emb.starts + emb.ends) / 2
    t = np.random.default_rng(1).uniform(middles[0], middles[-1], 200)
    values, mask = track.at(t, mode="linear")
    i = np.searchsorted(middles, t, side="right") - 1
    frac = (t - middles[i]) / (middles[i + 1] - middles[i])
    expected = emb.embeddings[i] + frac[:, None] * (emb.embeddings[i + 1] - emb.embeddings[i])
    assert mask.all()
    np.testing.assert_allclose(values, expected, atol=1e-5)


def test_modes_near_a_gap_use_only_face_clips():
    emb = clips(n=8, window=2.0, step=1.0, no_face=(3, 4))  # face spans [0, 4) and [5, 9)
    track = emb
    for mode in ("nearest", "linear", "hold"):
        values, mask = track.at([3.5, 4.5, 5.5], mode=mode)
        assert mask.tolist() == [True, False, True]
        np.testing.assert_allclose(values[0], emb.embeddings[2])  # only clip 2 covers 3.5
        np.testing.assert_allclose(values[2], emb.embeddings[5])
    nearest, _ = track.at([1.4, 1.6], mode="nearest")  # middles 1 (clip 0) and 2 (clip 1)
    np.testing.assert_allclose(nearest, emb.embeddings[[0, 1]])
    hold, _ = track.at([1.9, 2.0, 0.5], mode="hold")
    np.testing.assert_allclose(hold, emb.embeddings[[0, 1, 0]])
    with pytest.raises(ValueError):
        track.at([1.0], mode="cubic")


@settings(max_examples=100, deadline=None)
@given(data=st.data(), n=st.integers(1, 12), mode=st.sampled_from(["nearest", "linear", "hold"]))
def test_values_only_mix_face_clips_covering_the_time(data, n, mode):
    starts = np.array(data.draw(st.lists(st.floats(0, 20), min_size=n, max_size=n)))
    durations = np.array(data.draw(st.lists(st.floats(0, 4), min_size=n, max_size=n)))
    face = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    track = EmotionTrack(starts, starts + durations, np.eye(n, dtype=np.float32), has_face=face)
    t = np.array(data.draw(st.lists(st.floats(-1, 25), min_size=1, max_size=30)))
    values, mask = track.at(t, mode=mode)
    order = np.lexsort((starts + durations, starts))  # the track's row order
    covering = ((track.starts[:, None] <= t) & (t < track.ends[:, None])
                & track.has_face[:, None]).T
    assert mask.tolist() == covering.any(axis=1).tolist()
    assert np.isnan(values[~mask]).all()
    ok = values[mask]
    np.testing.assert_allclose(ok.sum(axis=1), 1.0, atol=1e-5)
    assert (ok >= -1e-6).all()
    assert not (np.abs(ok[:, order]) > 1e-6)[~covering[mask]].any()
    if mode != "linear":
        assert ((np.abs(ok) > 1e-6).sum(axis=1) == 1).all()


def test_align_to_mel_masks_no_face_frames():
    track = clips(n=8, window=1.6, step=0.8, no_face=(3, 4))
    n_samples = int(8.0 * 22050)
    values, mask = align_to_mel(track, n_samples=n_samples)
    times = mel_frame_times(len(mask))
    assert len(mask) == mel_frame_count(n_samples) == 1 + n_samples // 256
    in_gap = (times >= 3.2) & (times < 4.0)
    outside = times >= 7.2
    assert (~mask[in_gap]).all() and (~mask[outside]).all() and mask[~in_gap & ~outside].all()
    assert np.isnan(values[~mask]).all() and np.isfinite(values[mask]).all()
    with pytest.raises(ValueError):
        align_to_mel(track, 10, n_samples=100)


# ---------------------------------------------------------------- pooling

def test_mean_pooling_weights_by_overlap():
    emb = clips(n=4)  # clips [0, 2), [1, 3), [2, 4), [3, 5)
    track = emb
    word = pool_interval(track, Segment(0.5, 1.2), text="hi", tier="words")
    w = np.array([0.7, 0.2]) / 0.9
    np.testing.assert_allclose(word.vector, w @ emb.embeddings[:2], atol=1e-6)
    probs = w @ emb.probs[:2]
    assert word.label == LABELS[int(probs.argmax())]
    assert word.confidence == pytest.approx(probs.max())
    assert word.probs == pytest.approx(dict(zip(LABELS, probs)))
    assert (word.text, word.tier, word.face_ratio) == ("hi", "words", 1.0)


def test_confidence_pooling_multiplies_by_clip_confidence():
    emb = clips(n=4)
    track = emb
    idx, weights = clip_weights(track, Segment(0.5, 1.2), "confidence")
    assert idx.tolist() == [0, 1]
    np.testing.assert_allclose(weights, [0.7 * emb.probs[0].max(), 0.2 * emb.probs[1].max()],
                               rtol=1e-6)


def test_attention_pooling_uses_attention_mass_inside_the_interval():
    emb = clips(n=4)
    att = emb.attention.copy()
    att[0] = [1, 0, 0, 0]  # clip 0 attends only to [0, 0.5)
    att[1] = 0.25          # clip 1 attends uniformly
    track = EmotionTrack(emb.starts, emb.ends, emb.embeddings, probs=emb.probs,
                         attention=att, labels=LABELS)
    idx, weights = clip_weights(track, Segment(0.5, 1.2), "attention")
    np.testing.assert_allclose(weights, [0.0, 0.2], atol=1e-9)  # uniform -> the overlap
    np.testing.assert_allclose(pool_interval(track, Segment(0.5, 1.2), pool="attention").vector,
                               emb.embeddings[1], atol=1e-6)
    uniform = EmotionTrack(emb.starts, emb.ends, emb.embeddings, probs=emb.probs,
                           attention=np.full_like(att, 0.25), labels=LABELS)
    for seg in (Segment(0.3, 2.7), Segment(1.25, 1.5)):
        np.testing.assert_allclose(clip_weights(uniform, seg, "attention")[1],
                                   clip_weights(uniform, seg, "mean")[1], atol=1e-9)


def test_pooling_in_gaps_and_points():
    emb = clips(n=8, no_face=(3, 4))  # gap [4, 5)
    track = emb
    gap = pool_interval(track, Segment(4.1, 4.9), text="...")
    assert gap.label is None and gap.probs is None and gap.confidence is None
    assert gap.face_ratio == 0 and not gap.vector.any() and gap.vector.shape == (4,)
    half = pool_interval(track, Segment(3.5, 4.5))
    assert half.face_ratio == pytest.approx(0.5) and half.label is not None
    np.testing.assert_allclose(half.vector, emb.embeddings[2], atol=1e-6)
    point = pool_interval(track, Segment(1.5, 1.5))
    np.testing.assert_allclose(point.vector, emb.embeddings[:2].mean(0), atol=1e-6)
    assert point.face_ratio == 1.0
    with pytest.raises(ValueError):
        pool_interval(track, Segment(0, 1), pool="max")


def test_emotion_runs_follow_labels_and_stop_at_gaps():
    probs = np.array([[.9, .05, .05]] * 2 + [[.6, .3, .1]] + [[0, 0, 0]] * 2
                     + [[.1, .8, .1]] * 2, np.float32)
    emb = clips(n=7, no_face=(3, 4))
    track = EmotionTrack(emb.starts, emb.ends, emb.embeddings, has_face=emb.has_face,
                         probs=probs, labels=LABELS)
    runs = emotion_runs(track)
    assert [(r.segment, r.label) for r in runs] == [(Segment(0, 4), "happiness"),
                                                    (Segment(5, 8), "sadness")]
    assert all(r.face_ratio == 1.0 and r.tier == "emotion" for r in runs)


# ---------------------------------------------------------------- align() and audio

def test_align_accepts_clip_embeddings_and_returns_mel_conditioning():
    emb = clips(n=8, window=1.6, step=0.8, no_face=(3, 4))
    cond = align(emb, n_mel_frames=700, sr=22050, hop_length=256, n_fft=1024,
                 interpolation="hold")
    assert isinstance(cond, MelConditioning)
    assert cond.values.shape == (700, 4) and cond.mask.shape == (700,)
    assert cond.labels == LABELS and cond.preset == "default" and cond.mode == "hold"
    np.testing.assert_array_equal(cond.times, mel_frame_times(700))
    assert np.array_equal(np.isnan(cond.values).any(1), ~cond.mask)
    assert (cond.filled()[~cond.mask] == 0).all()
    assert cond.window.middle(10) == pytest.approx(cond.times[10])
    with pytest.raises(ValueError, match="frame rate"):
        cond.video_frames()
    from_audio = align(emb, mel_frames_for=np.zeros(22050, np.float32))
    assert from_audio.n_frames == 87


def test_align_intervals_from_lists_and_files(tmp_path):
    emb = clips(n=8, no_face=(3, 4))
    words = [Interval(Segment(0.5, 1.2), "hello", "words"), Interval(Segment(4.2, 4.8), "uh")]
    out = align(emb, words=words, pool="confidence")
    assert [iv.text for iv in out] == ["hello", "uh"] and out[1].label is None
    srt = tmp_path / "clip.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:01,200\nhello\n", encoding="utf-8")
    (line,) = align(emb, subtitles=srt)
    assert line.segment == Segment(0.5, 1.2) and line.tier == "subtitles"
    expected = pool_interval(emb, Segment(0.5, 1.2), pool="mean")
    np.testing.assert_allclose(line.vector, expected.vector)
    with pytest.raises(ValueError):
        align(emb)
    with pytest.raises(ValueError):
        align(emb, n_mel_frames=10, words=words)
    with pytest.raises(ValueError):
        align(emb, words=words, subtitles=srt)
    with pytest.raises(ValueError):
        align(emb, words=words, tier="phones")


def test_load_track_errors_name_the_file(tmp_path):
    path = clips().save(tmp_path / "clip.npz")
    assert len(load_track(path)) == 8
    with pytest.raises(AlignmentError, match="missing.npz: file not found"):
        load_track(tmp_path / "missing.npz")
    bad = tmp_path / "other.npz"
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(AlignmentError, match="other.npz: not an emotion track .npz"):
        load_track(bad)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A 2.03 s stereo 44.1 kHz sine written with moviepy: as WAV, as MKV (PCM) and MP4 (AAC)."""
    from moviepy import ImageSequenceClip
    from moviepy.audio.AudioClip import AudioArrayClip

    folder = tmp_path_factory.mktemp("media")
    rate, n = 44100, 2 * 44100 + 1234
    t = np.arange(n) / rate
    sine = 0.3 * np.sin(2 * np.pi * 440 * t)
    audio = AudioArrayClip(np.stack([sine, 0.5 * sine], axis=1), fps=rate)
    frames = [np.full((32, 32, 3), (8 * i) % 256, np.uint8)
              for i in range(int(np.ceil(audio.duration * 25)))]
    video = ImageSequenceClip(frames, fps=25).with_audio(audio).with_duration(audio.duration)
    paths = {"wav": folder / "sine.wav", "mkv": folder / "sine.mkv", "mp4": folder / "sine.mp4"}
    audio.write_audiofile(str(paths["wav"]), fps=rate, logger=None)
    video.write_videofile(str(paths["mkv"]), codec="libx264", audio_codec="pcm_s16le",
                          audio_fps=rate, logger=None)
    video.write_videofile(str(paths["mp4"]), codec="libx264", audio_codec="aac",
                          audio_fps=rate, logger=None)
    return paths, n


STFT_SETTINGS = [(22050, 256, 1024, True), (16000, 160, 400, False), (24000, 300, 1201, True),
                 (44100, 512, 2048, False)]


@pytest.mark.parametrize("sr,hop,n_fft,center", STFT_SETTINGS)
def test_mel_frames_for_equals_librosa_on_a_lossless_video(media, sr, hop, n_fft, center):
    paths, _ = media
    reference, _ = librosa.load(paths["wav"], sr=sr)  # librosa reads WAV on its own
    audio = audio_of_video(paths["mkv"], sr)
    assert len(audio) == len(reference)
    np.testing.assert_allclose(audio, reference, atol=1e-4)
    expected = librosa.feature.melspectrogram(y=reference, sr=sr, hop_length=hop, n_fft=n_fft,
                                              center=center).shape[-1]
    assert mel_frames_for(paths["mkv"], sr, hop, n_fft, center) == expected


def test_mel_frames_for_aac_mp4(media):
    paths, n = media
    audio = audio_of_video(paths["mp4"], 22050)
    assert abs(len(audio) - n * 22050 / 44100) < 0.005 * 22050  # AAC padding, if any, < 5 ms
    for sr, hop, n_fft, center in STFT_SETTINGS:
        y = audio if sr == 22050 else audio_of_video(paths["mp4"], sr)
        expected = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=hop, n_fft=n_fft,
                                                  center=center).shape[-1]
        assert mel_frames_for(paths["mp4"], sr, hop, n_fft, center) == expected


def test_align_from_a_video_records_its_fps(media):
    paths, _ = media
    emb = clips(n=2, window=1.6, step=0.4)
    cond = align(emb, mel_frames_for=paths["mp4"])
    assert cond.n_frames == mel_frames_for(paths["mp4"]) and cond.fps == 25.0
    frames = cond.video_frames()
    assert frames[0] == 0 and frames[-1] == int(cond.times[-1] * 25)


@pytest.mark.parametrize("name", ["talking_woman.mp4", "mead_disgusted.mp4",
                                  "stage_multiface.mp4"])
def test_mel_frames_for_shared_videos(name):
    path = SHARED_VIDEOS / name
    if not path.exists():
        pytest.skip(f"{path} is not present")
    info = probe(path)
    if not info.get("audio_found"):
        with pytest.raises(AlignmentError, match=f"{name}: has no audio track"):
            mel_frames_for(path)
        return
    audio = audio_of_video(path, 22050)
    assert abs(len(audio) / 22050 - info["duration"]) < 0.1
    expected = librosa.feature.melspectrogram(y=audio, sr=22050, hop_length=256,
                                              n_fft=1024).shape[-1]
    assert mel_frames_for(path, 22050, 256, 1024, True) == expected


def test_audio_errors_name_the_file(tmp_path):
    with pytest.raises(AlignmentError, match="nothing.mp4: file not found"):
        audio_of_video(tmp_path / "nothing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(AlignmentError, match="notes.mp4: not a readable audio or video file"):
        mel_frames_for(text)
