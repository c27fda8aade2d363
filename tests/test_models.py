"""The network: four ablation configurations, temporal axis, presets, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_encoder import _runtime  # noqa: F401
import keras

from emotion_encoder.labels import CANONICAL_LABELS
from emotion_encoder.models import EmotionClassifier, FacePreprocessor, PRESETS, ResNet3DBackbone
from emotion_encoder.models.loading import build_model, load_encoder_model
from emotion_encoder.models.still_classifier import build_still_classifier
from emotion_encoder.models.style_mixing import StyleMixing
from emotion_encoder.training.inflate import inflate_into

TINY = dict(stackwise_num_blocks=(1, 1, 1, 1), stackwise_num_filters=(4, 8, 8, 16),
            stem_filters=4, num_frames=16, image_size=32, channels=1, stem_pool=False)
HEAD = dict(convlstm_filters=8, transformer_dim=16, transformer_heads=2,
            transformer_mlp_dim=16, embedding_dim=24)


@pytest.mark.parametrize("use_convlstm,use_transformer",
                         [(False, False), (True, False), (False, True), (True, True)])
def test_ablation_configurations_have_the_same_outputs(use_convlstm, use_transformer):
    model = EmotionClassifier(ResNet3DBackbone(**TINY), use_convlstm=use_convlstm,
                              use_transformer=use_transformer, **HEAD)
    out = model.predict(np.random.default_rng(0).normal(size=(3, 16, 32, 32, 1)), verbose=0)
    assert out["probs"].shape == (3, len(CANONICAL_LABELS))
    np.testing.assert_allclose(out["probs"].sum(-1), 1.0, atol=1e-5)
    assert out["embedding"].shape == (3, 24)
    assert out["attention"].shape == (3, 4)
    np.testing.assert_allclose(out["attention"].sum(-1), 1.0, atol=1e-5)
    names = {layer.name for layer in model.layers}
    assert ("convlstm" in names) == use_convlstm
    assert ("transformer" in names) == use_transformer
    if not use_transformer:
        np.testing.assert_allclose(out["attention"], 0.25)


def test_attention_depends_on_the_input():
    model = EmotionClassifier(ResNet3DBackbone(**TINY), **HEAD)
    rng = np.random.default_rng(1)
    a = model.predict(rng.normal(size=(2, 16, 32, 32, 1)), verbose=0)["attention"]
    assert not np.allclose(a[0], a[1])


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_keep_a_real_temporal_axis(preset):
    config = PRESETS[preset]["backbone"]
    backbone = ResNet3DBackbone(**dict(config, stackwise_num_filters=[4, 4, 4, 4],
                                       stem_filters=4))
    assert backbone.num_frames == 16
    assert backbone.output_steps >= 4
    assert backbone.output_shape[1] == 4


def test_paper_preset_is_the_papers_network():
    config = PRESETS["paper"]["backbone"]
    assert config["stackwise_num_blocks"] == [3, 4, 6, 3]
    assert config["stackwise_num_filters"] == [64, 128, 256, 512]
    assert (config["num_frames"], config["image_size"], config["channels"]) == (16, 112, 3)


# the `fast` layout (3 x 3 x 3 everywhere) and the `default` one: per-stage temporal kernels
MIXED = dict(stackwise_temporal_strides=(1, 2, 2, 1), temporal_kernel=(1, 1, 3, 1))


@pytest.mark.parametrize("temporal", [{}, MIXED], ids=["r3d", "mixed"])
def test_backbone_2d_twin_shares_layer_names_and_inflates(temporal):
    backbone3d = ResNet3DBackbone(**TINY, **temporal)
    backbone2d = ResNet3DBackbone(**dict(TINY, dims=2), **temporal)
    names3d = {w.path.split("/", 1)[1] for w in backbone3d.weights}
    names2d = {w.path.split("/", 1)[1] for w in backbone2d.weights}
    assert names3d == names2d
    rng = np.random.default_rng(5)
    for layer in backbone2d.layers:  # random weights everywhere (BN variances positive)
        layer.set_weights([np.abs(rng.normal(size=w.shape)) * 0.5 + 0.5 if "variance" in w.path
                           else rng.normal(size=w.shape) * 0.3 for w in layer.weights])
    # centre inflation: a static clip through the 3D net equals the still through the 2D net
    assert inflate_into(backbone3d, backbone2d) == len([l for l in backbone3d.layers if l.weights])
    image = np.random.default_rng(2).normal(size=(1, 32, 32, 1)).astype("float32")
    still = backbone2d(image, training=False).numpy()
    clip = backbone3d(np.repeat(image[:, None], 16, axis=1), training=False).numpy()
    for step in range(clip.shape[1]):  # edge steps see zero padding: only the centre works
        np.testing.assert_allclose(clip[0, step], still[0], rtol=1e-4, atol=1e-4)


def test_per_stage_temporal_kernels():
    backbone = ResNet3DBackbone(**TINY, **MIXED)
    kernels = {name: backbone.get_layer(f"{name}_conv1").kernel.shape[0]
               for name in ("stage1_block1", "stage2_block1", "stage3_block1", "stage4_block1")}
    assert kernels == {"stage1_block1": 1, "stage2_block1": 1, "stage3_block1": 3,
                       "stage4_block1": 1}
    assert backbone.output_shape[1] == 4
    assert backbone.get_config()["temporal_kernel"] == [1, 1, 3, 1]
    assert ResNet3DBackbone.from_config(backbone.get_config()).count_params() == \
        backbone.count_params()
    with pytest.raises(ValueError, match="one entry per stage"):
        ResNet3DBackbone(**TINY, temporal_kernel=(1, 3))


@pytest.mark.parametrize("layout, stem_frames", [(MIXED, 8), ({}, 16)],
                         ids=["per-frame-stages-1-2", "temporal-kernels-everywhere"])
def test_export_twin_computes_no_frame_that_is_dropped(layout, stem_frames):
    """The LiteRT twin (``frame_convs``) skips the frames the first temporal stride drops
    unused when every kernel before it is per-frame (default's layout: half the stem and
    stage 1), and gives the same outputs with the same weights; with temporal kernels in
    the way it computes every frame."""
    plain = ResNet3DBackbone(**TINY, **layout)
    twin = ResNet3DBackbone(**TINY, **layout, frame_convs=True)
    twin.set_weights(plain.get_weights())
    assert twin.get_layer("stem_conv").output.shape[1] == stem_frames
    assert twin.output_shape == plain.output_shape
    x = np.random.default_rng(1).normal(size=(2, 16, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(twin(x)), np.asarray(plain(x)), atol=1e-5)


def test_style_mixing_keeps_each_face_and_mixes_its_statistics():
    """MixStyle in training: each face's normalised map is kept and its per-channel mean
    and spread move towards another face's by one shared ``lam``; at inference, and with
    rate 0, the map is untouched."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0.0, 1.0, (1, 8, 8, 3)),
                        rng.normal(10.0, 3.0, (1, 8, 8, 3))]).astype("float32")
    mean, std = x.mean(axis=(1, 2)), x.std(axis=(1, 2))
    layer = StyleMixing(rate=1.0, alpha=0.5, seed=3)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(StyleMixing(rate=0.0)(x, training=True)), x)
    moved = 0
    for _ in range(8):
        y = np.asarray(layer(x, training=True))
        y_mean, y_std = y.mean(axis=(1, 2)), y.std(axis=(1, 2))
        np.testing.assert_allclose((y - y_mean[:, None, None]) / y_std[:, None, None],
                                   (x - mean[:, None, None]) / std[:, None, None], atol=1e-3)
        for i in range(2):  # between its own statistics and the other face's, one lam
            own = (y_mean[i] - mean[1 - i]) / (mean[i] - mean[1 - i])
            assert np.all((own > -1e-3) & (own < 1 + 1e-3))
            np.testing.assert_allclose(own, own[0], atol=1e-3)
            np.testing.assert_allclose((y_std[i] - std[1 - i]) / (std[i] - std[1 - i]), own,
                                       atol=2e-3)
            moved += bool(own[0] < 0.99)
    assert moved >= 2
    with pytest.raises(ValueError, match="rate"):
        StyleMixing(rate=1.5)


def test_a_still_network_trained_with_style_mixing_loads_into_the_plain_one():
    """The layer has no weights: the same weights, the same outputs at inference, and
    the backbone's config names it only when it is on."""
    mixing = build_still_classifier("fast", 7, style_mixing=0.5)
    plain = build_still_classifier("fast", 7)
    assert [w.shape for w in mixing.weights] == [w.shape for w in plain.weights]
    assert {"stage1_style_mixing", "stage2_style_mixing"} <= {layer.name for layer in mixing.layers}
    assert not any(layer.name.endswith("style_mixing") for layer in plain.layers)
    plain.set_weights(mixing.get_weights())
    x = np.random.default_rng(2).normal(size=(3, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(plain(x)), np.asarray(mixing(x)), atol=1e-6)
    backbone = ResNet3DBackbone(**TINY, style_mixing=0.5)
    assert backbone.get_config()["style_mixing"] == 0.5
    assert "style_mixing" not in ResNet3DBackbone(**TINY).get_config()
    assert ResNet3DBackbone.from_config(backbone.get_config()).get_layer(
        "stage1_style_mixing").rate == 0.5


def test_get_config_round_trip():
    model = EmotionClassifier(ResNet3DBackbone(**TINY), use_convlstm=False, **HEAD)
    clone = EmotionClassifier.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.count_params() == model.count_params()


def test_save_and_reload_give_identical_outputs(tmp_path):
    model = EmotionClassifier(ResNet3DBackbone(**TINY), labels=("a", "b", "c"), **HEAD)
    x = np.random.default_rng(3).normal(size=(2, 16, 32, 32, 1)).astype("float32")
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    after = reloaded.predict(x, verbose=0)
    assert isinstance(reloaded, EmotionClassifier)
    assert reloaded.labels == ("a", "b", "c")
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])


def test_a_saved_model_keeps_its_preprocessor(tmp_path):
    pre = FacePreprocessor(image_size=32, channels=1, face_margin=0.3, face_offset=0.0,
                           zoom=1.09)
    EmotionClassifier(ResNet3DBackbone(**TINY), preprocessor=pre, **HEAD).save(
        tmp_path / "model.keras")
    loaded = load_encoder_model(tmp_path / "model.keras")
    assert loaded.preprocessor.get_config() == pre.get_config()
    plain = EmotionClassifier(ResNet3DBackbone(**TINY), **HEAD)  # none given: the backbone's
    assert plain.preprocessor.get_config() == FacePreprocessor(32, 1).get_config()
    assert build_model("default").preprocessor.zoom == PRESETS["default"]["preprocessor"]["zoom"]


def test_a_saved_temperature_calibrates_the_clip_classifier(tmp_path):
    """The model's temperature travels in the .keras file, and the clip classifier's
    probabilities are the network's at that temperature: same argmax, softer for T > 1."""
    from emotion_encoder.calibration import apply_temperature
    from emotion_encoder.clip_classifier import ClipClassifier

    model = EmotionClassifier(ResNet3DBackbone(**TINY), temperature=2.5, **HEAD)
    model.save(tmp_path / "model.keras")
    loaded = load_encoder_model(tmp_path / "model.keras")
    assert loaded.model.temperature == 2.5
    x = np.random.default_rng(4).normal(size=(3, 16, 32, 32, 1)).astype("float32")
    raw = np.asarray(loaded.model(x, training=False)["probs"])
    got = ClipClassifier(loaded.model, loaded.preprocessor, mirror=False).forward(x)["probs"]
    np.testing.assert_allclose(got, apply_temperature(raw, 2.5), atol=1e-6)
    assert (got.argmax(1) == raw.argmax(1)).all() and (got.max(1) < raw.max(1)).all()
    assert np.allclose(got.sum(1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        EmotionClassifier(ResNet3DBackbone(**TINY), temperature=0.0, **HEAD)
    assert build_model("default").temperature == PRESETS["default"]["classifier"].get(
        "temperature", 1.0)


def test_default_preset_builds_with_the_documented_shape():
    model = build_model("default")
    assert model.input_shape == (None, 16, 48, 48, 1)
    assert model.output["probs"].shape[-1] == 7
    assert model.output["attention"].shape[-1] == 4
    assert model.backbone.stackwise_num_blocks == (3, 4, 6, 3)


def test_missing_weights_are_announced(recwarn):
    loaded = load_encoder_model("default", weights=False)
    assert loaded.weights_trained is False
    assert any("no trained weights" in str(w.message) for w in recwarn.list)


def test_unknown_preset_is_a_clear_error():
    from emotion_encoder.errors import PresetError

    with pytest.raises(PresetError, match="unknown preset 'nope'"):
        load_encoder_model("nope")


def test_bad_keras_file_is_a_clear_error(tmp_path):
    from emotion_encoder.errors import PresetError

    bad = tmp_path / "broken.keras"
    bad.write_text("not a model")
    with pytest.raises(PresetError, match="broken.keras: not a loadable"):
        load_encoder_model(bad)


def test_preprocessor_grey_and_standardised():
    pre = FacePreprocessor(image_size=48, channels=1)
    crops = np.random.default_rng(4).integers(0, 255, size=(16, 96, 96, 3), dtype=np.uint8)
    out = pre(crops)
    assert out.shape == (16, 48, 48, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1.0, atol=1e-3)
    rgb = FacePreprocessor(image_size=32, channels=3)(crops[:2])
    assert rgb.shape == (2, 32, 32, 3)


def test_preprocessor_zoom_keeps_the_centre():
    crop = np.zeros((48, 48, 3), np.uint8)
    crop[2:46, 2:46] = 200  # a bright square with a 2-pixel dark border
    plain = FacePreprocessor(image_size=48, channels=1)(crop[None])[0]
    zoomed = FacePreprocessor(image_size=48, channels=1, zoom=48 / 44)(crop[None])[0]
    assert plain[0, 0, 0] < plain[24, 24, 0]  # the border is there without zoom
    assert np.ptp(zoomed) < 1e-3  # the central 44 x 44 is all square: a flat image
    pre = FacePreprocessor(zoom=1.09)
    assert FacePreprocessor.from_config(pre.get_config()).zoom == 1.09
    with pytest.raises(ValueError, match="zoom must be between 1 and 2"):
        FacePreprocessor(zoom=0.9)


def test_preprocessor_clahe_evens_out_a_shadow_and_travels_with_the_model(tmp_path):
    from skimage import data

    face = data.astronaut()[30:230, 150:350].astype(np.float32)  # her face
    face[:, :100] *= 0.3  # its left half in deep shadow
    face = face.astype(np.uint8)[None]
    plain = FacePreprocessor(image_size=48, channels=1)(face)[0, ..., 0]
    even = FacePreprocessor(image_size=48, channels=1, clahe=2.0)(face)[0, ..., 0]
    assert even.shape == plain.shape and abs(float(even.mean())) < 1e-4

    def shadow_detail(x):  # the shaded half's spread against the lit half's
        return float(x[:, :24].std() / x[:, 24:].std())
    # standardisation alone keeps the shadow's detail at ~0.3 of the lit side's; CLAHE
    # evens each region's contrast out (measured 0.31 -> 0.56)
    assert shadow_detail(plain) < 0.4 and shadow_detail(even) > 1.5 * shadow_detail(plain)
    pre = FacePreprocessor(image_size=32, channels=1, clahe=2.0)
    EmotionClassifier(ResNet3DBackbone(**TINY), preprocessor=pre, **HEAD).save(
        tmp_path / "model.keras")
    assert load_encoder_model(tmp_path / "model.keras").preprocessor.clahe == 2.0
    assert "clahe" not in FacePreprocessor().get_config()  # models saved before read the same
    with pytest.raises(ValueError, match="grey uint8 faces"):
        FacePreprocessor(image_size=32, channels=3, clahe=2.0)(face)
    with pytest.raises(ValueError, match="clahe must be 0"):
        FacePreprocessor(clahe=-1.0)


def test_face_cache_applies_the_zoom_to_face_crop_images(tmp_path):
    from PIL import Image

    from emotion_encoder.data.dataset import Dataset, Sample
    from emotion_encoder.face_cache import CropSettings, cache_faces

    image = np.zeros((48, 48), np.uint8)
    image[4:44, 4:44] = 255
    Image.fromarray(image).save(tmp_path / "face.png")
    dataset = Dataset("tiny", (Sample(label="anger", dataset="tiny",
                                      frames=(tmp_path / "face.png",), subject="s1"),),
                      ("anger",))
    plain, zoomed = (cache_faces(dataset, tmp_path / "cache",
                                 CropSettings(detect=False, zoom=zoom)).sequences[0][0, ..., 0]
                     for zoom in (1.0, 48 / 40))
    assert plain[0, 0] == 0 and plain[24, 24] == 255
    assert zoomed.min() > 200  # the dark border is outside the central 40 x 40
