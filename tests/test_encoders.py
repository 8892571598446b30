"""The encoder registry: local save_pretrained folders, output contract, preprocessing and clear errors."""

import numpy as np
import pytest
import torch

from jepa_sim.encoders import EncoderLoadError, load_encoder
from jepa_sim.encoders.preprocess import IMAGENET_MEAN, center_crop_resize, to_video_clips


def tiny_vjepa2(folder, seed=0, **overrides):
    from transformers import VJEPA2Config, VJEPA2Model

    torch.manual_seed(seed)
    kwargs = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "patch_size": 8,
        "crop_size": 32,
        "tubelet_size": 2,
        "frames_per_clip": 2,
        "mlp_ratio": 2.0,
        "pred_hidden_size": 16,
        "pred_num_hidden_layers": 1,
        "pred_num_attention_heads": 2,
    }
    model = VJEPA2Model(VJEPA2Config(**{**kwargs, **overrides}))
    model.save_pretrained(folder)
    return model


def frames(n=3, h=48, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_round_trip_through_the_registry_by_local_path(tmp_path):
    model = tiny_vjepa2(tmp_path / "enc").eval()
    encoder = load_encoder(str(tmp_path / "enc"), device="cpu")
    for (name, saved), loaded in zip(model.state_dict().items(), encoder.model.state_dict().values(), strict=True):
        torch.testing.assert_close(loaded, saved, msg=name)
    x = frames()
    clips = to_video_clips(x, 32, 2)
    with torch.no_grad():
        raw = model.get_vision_features(pixel_values_videos=clips)
    expected = torch.nn.functional.layer_norm(raw, (32,))
    torch.testing.assert_close(encoder.encode(x), expected, rtol=1e-4, atol=1e-4)
    assert encoder.id.startswith("enc@") and encoder.describe()["grid"] == [4, 4]


def test_tokens_have_the_documented_shape_and_are_layer_normed(tmp_path):
    tiny_vjepa2(tmp_path / "enc")
    encoder = load_encoder(str(tmp_path / "enc"), device="cpu", batch_size=2)  # 5 frames in 3 batches
    tokens = encoder.encode(frames(5))
    assert tokens.shape == (5, 16, 32) and tokens.dtype == torch.float32
    torch.testing.assert_close(tokens.mean(-1), torch.zeros(5, 16), atol=1e-4, rtol=0)
    torch.testing.assert_close(tokens.std(-1, unbiased=False), torch.ones(5, 16), atol=1e-3, rtol=0)
    assert encoder.num_tokens == 16 and encoder.dim == 32
    assert torch.equal(encoder.encode(frames(5)), tokens)  # frozen and deterministic
    assert not any(p.requires_grad for p in encoder.model.parameters())


def test_bfloat16_inference_is_close_to_float32(tmp_path):
    tiny_vjepa2(tmp_path / "enc")
    full = load_encoder(str(tmp_path / "enc"), device="cpu").encode(frames())
    half = load_encoder(str(tmp_path / "enc"), device="cpu", dtype="bfloat16").encode(frames())
    assert half.dtype == torch.float32 and (half - full).abs().mean() < 0.1


def test_crop_not_squash():
    wide = np.zeros((1, 40, 80, 3), np.uint8)
    wide[:, :, 20:60] = 255  # a white centre square between black side bands
    out = center_crop_resize(torch.from_numpy(wide), 20)
    assert out.shape == (1, 3, 20, 20)
    assert torch.all(out > 0.99)  # the bands were cropped away, not squeezed in
    grey = np.full((1, 8, 8, 3), 255 * np.array(IMAGENET_MEAN), dtype=np.uint8)
    assert to_video_clips(grey, 8, 2).abs().max() < 0.02  # ImageNet mean maps to ~0


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((2, 8, 8), np.uint8), r"\(B, H, W, 3\)"),
        (np.zeros((2, 8, 8, 3), np.float32), "uint8"),
        ([1, 2, 3], "numpy array or torch tensor"),
    ],
)
def test_bad_frames_are_named(tmp_path, bad, message):
    tiny_vjepa2(tmp_path / "enc")
    encoder = load_encoder(str(tmp_path / "enc"), device="cpu")
    with pytest.raises((ValueError, TypeError), match=message):
        encoder.encode(bad)


def test_unreachable_hub_id_says_how_to_pass_a_local_folder():
    with pytest.raises(EncoderLoadError, match="pass its path") as err:
        load_encoder("facebook/vjepa2-vitl-fpc64-256", device="cpu", local_files_only=True)
    assert "huggingface-cli download facebook/vjepa2-vitl-fpc64-256" in str(err.value)
    with pytest.raises(EncoderLoadError, match="pass its path"):
        load_encoder("vjepa2-vitg", device="cpu", local_files_only=True)  # short names resolve to hub ids


def test_other_bad_sources_are_named(tmp_path):
    with pytest.raises(EncoderLoadError, match="unknown encoder 'nonsense'"):
        load_encoder("nonsense")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EncoderLoadError, match=r"no config\.json"):
        load_encoder(str(tmp_path / "empty"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(EncoderLoadError, match="'bert' model, not a V-JEPA 2"):
        load_encoder(str(tmp_path / "other"))
    with pytest.raises(ValueError, match="dtype='int8'"):
        tiny_vjepa2(tmp_path / "enc")
        load_encoder(str(tmp_path / "enc"), dtype="int8")


def test_the_embedded_default_loads_offline_and_is_documented():
    import json

    from jepa_sim.encoders.registry import CHECKPOINTS_DIR

    encoder = load_encoder("default", device="cpu")
    tokens = encoder.encode(np.zeros((2, 128, 128, 3), np.uint8))
    assert tokens.shape == (2, encoder.num_tokens, encoder.dim) and torch.isfinite(tokens).all()
    assert encoder.id.startswith("encoder@")
    card = json.loads((CHECKPOINTS_DIR / "encoder" / "training.json").read_text())
    assert card["steps"] >= 1000 and card["heldout_episodes"]
    model_card = (CHECKPOINTS_DIR / "encoder" / "README.md").read_text()
    assert "R^2" in model_card and "jepa-sim pretrain" in model_card
