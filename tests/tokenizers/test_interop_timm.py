"""from_timm_vit: a timm ViT imported into image_patch + the core Encoder gives timm's logits."""

from __future__ import annotations

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer

from tformer.interop_timm import ViTClassifier, from_timm_vit

SHAPES = [
    dict(img_size=28, patch_size=7, in_chans=1, embed_dim=64, depth=2, num_heads=4, num_classes=10),
    dict(img_size=32, patch_size=4, in_chans=3, embed_dim=96, depth=3, num_heads=3, num_classes=10),
    dict(img_size=32, patch_size=8, in_chans=3, embed_dim=48, depth=2, num_heads=3, num_classes=5, global_pool="avg"),
    dict(img_size=(32, 24), patch_size=8, in_chans=3, embed_dim=32, depth=1, num_heads=2, num_classes=4,
         global_pool="avg", class_token=False, qkv_bias=False, mlp_ratio=2.0),
    dict(img_size=16, patch_size=8, in_chans=1, embed_dim=32, depth=1, num_heads=2, num_classes=3, fc_norm=True),
]


def _timm(**kwargs) -> VisionTransformer:
    model = VisionTransformer(**kwargs).eval()
    with torch.no_grad():  # move norms and biases away from their 1/0 init so every copy matters
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return model


@pytest.mark.parametrize("kwargs", SHAPES, ids=lambda k: f"img{k['img_size']}-p{k['patch_size']}-{k.get('global_pool', 'token')}")
def test_logits_match_timm(kwargs):
    model = _timm(**kwargs)
    ours = from_timm_vit(model)
    assert isinstance(ours, ViTClassifier) and not ours.training
    size = kwargs["img_size"] if isinstance(kwargs["img_size"], tuple) else (kwargs["img_size"],) * 2
    images = torch.randn(3, kwargs["in_chans"], *size)
    with torch.no_grad():
        torch.testing.assert_close(ours(images), model(images), atol=1e-4, rtol=1e-4)


def test_structure_uses_the_core():
    ours = from_timm_vit(_timm(**SHAPES[0]))
    assert ours.encoder.layers[0].norm_first and ours.encoder.norm is not None
    assert ours.encoder.norm.eps == 1e-6
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in _timm(**SHAPES[0]).parameters())


@pytest.mark.parametrize(
    "feature, kwargs",
    [
        ("layer scale", dict(init_values=1e-5)),
        ("qk_norm", dict(qk_norm=True)),
        ("reg_tokens", dict(reg_tokens=2)),
        ("global_pool='map'", dict(global_pool="map")),
        ("dynamic_img_size", dict(dynamic_img_size=True)),
        ("no_embed_class", dict(no_embed_class=True)),
        ("pre_norm", dict(pre_norm=True)),
        ("act_layer", dict(act_layer="gelu_tanh")),
    ],
)
def test_unsupported_features_are_named(feature, kwargs):
    model = VisionTransformer(img_size=16, patch_size=8, embed_dim=32, depth=1, num_heads=2, num_classes=3, **kwargs)
    with pytest.raises(ValueError, match=feature.replace("(", r"\(")):
        from_timm_vit(model)
