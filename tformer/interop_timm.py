"""Weight import from timm's ``VisionTransformer`` into tformer's image tokenizer + shared Encoder."""

from __future__ import annotations

import torch
from timm.layers import Mlp, PatchEmbed
from timm.models.vision_transformer import Attention, Block, VisionTransformer
from torch import Tensor, nn

from .core.transformer import Encoder
from .tokenizers.image import ImagePatchTokenizer

__all__ = ["ViTClassifier", "from_timm_vit"]


class ViTClassifier(nn.Module):
    """Image classifier on the shared core: image_patch tokenizer -> Encoder -> pool -> head.

    Args:
        tokenizer: the ViT front-end.
        encoder: the shared core Encoder (pre-norm for ViT).
        head: Linear from ``d_model`` to the classes.
        pool: ``"token"`` ([CLS]) or ``"avg"`` (mean of the patch vectors).
        head_norm: optional LayerNorm applied after pooling (timm's ``fc_norm``).
    """

    def __init__(
        self,
        tokenizer: ImagePatchTokenizer,
        encoder: Encoder,
        head: nn.Linear,
        pool: str = "token",
        head_norm: nn.LayerNorm | None = None,
    ):
        super().__init__()
        if pool not in ("token", "avg"):
            raise ValueError(f"unknown pool {pool!r}; choose 'token' or 'avg'")
        if pool == "token" and tokenizer.cls_token is None:
            raise ValueError("pool='token' needs a tokenizer with class_token=True")
        self.tokenizer, self.encoder, self.head, self.pool, self.head_norm = tokenizer, encoder, head, pool, head_norm

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) images -> (B, n_classes) logits."""
        x, _ = self.tokenizer(images)  # (B, T, d), no padding
        h = self.encoder(x)  # (B, T, d)
        pooled = h[:, 0] if self.pool == "token" else h[:, self.tokenizer.n_prefix :].mean(dim=1)  # (B, d)
        if self.head_norm is not None:
            pooled = self.head_norm(pooled)
        return self.head(pooled)


def _is_identity(module: nn.Module | None) -> bool:
    return module is None or isinstance(module, nn.Identity)


def _model_problems(model: VisionTransformer) -> list[str]:
    embed = model.patch_embed
    checks = {
        "reg_tokens": model.num_reg_tokens > 0,
        "no_embed_class": model.no_embed_class,
        "pos_embed='none'": model.pos_embed is None,
        "dynamic_img_size": model.dynamic_img_size,
        "dynamic_img_pad": getattr(embed, "dynamic_img_pad", False),
        "pre_norm": not _is_identity(model.norm_pre),
        f"patch_embed {type(embed).__name__}": type(embed) is not PatchEmbed,
        "embed_norm_layer": not _is_identity(getattr(embed, "norm", None)),
        "non-square patch_size": embed.patch_size[0] != embed.patch_size[1],
        f"global_pool={model.global_pool!r}": model.global_pool not in ("token", "avg") or model.attn_pool is not None,
        "pool_include_prefix": model.pool_include_prefix,
        "num_classes=0 (no Linear head)": not isinstance(model.head, nn.Linear),
        "a norm_layer other than LayerNorm": not all(
            isinstance(n, nn.LayerNorm) for n in (model.norm, model.fc_norm) if not _is_identity(n)
        ),
    }
    return [name for name, present in checks.items() if present]


def _block_problems(block: nn.Module, dim: int) -> list[str]:
    if type(block) is not Block:
        return [f"block_fn {type(block).__name__}"]
    attn, mlp = block.attn, block.mlp
    if type(attn) is not Attention or type(mlp) is not Mlp:
        return [f"attn_layer {type(attn).__name__} / mlp_layer {type(mlp).__name__}"]
    act = mlp.act
    checks = {
        "layer scale (init_values, ls1/ls2)": not (_is_identity(block.ls1) and _is_identity(block.ls2)),
        "qk_norm": not (_is_identity(attn.q_norm) and _is_identity(attn.k_norm)),
        "scale_attn_norm": not _is_identity(attn.norm),
        "gated attention": getattr(attn, "gate", None) is not None,
        "attn_head_dim": attn.num_heads * attn.head_dim != dim,
        "scale_mlp_norm": not _is_identity(mlp.norm),
        f"act_layer {type(act).__name__} (only exact GELU)": not (isinstance(act, nn.GELU) and act.approximate == "none"),
        "a norm_layer other than LayerNorm": not (isinstance(block.norm1, nn.LayerNorm) and isinstance(block.norm2, nn.LayerNorm)),
    }
    return [name for name, present in checks.items() if present]


def _check_supported(model: VisionTransformer) -> None:
    if not isinstance(model, VisionTransformer):
        raise TypeError(f"from_timm_vit needs a timm VisionTransformer, got {type(model).__name__}")
    problems = _model_problems(model)
    for block in model.blocks:
        problems += [p for p in _block_problems(block, model.embed_dim) if p not in problems]
    if problems:
        raise ValueError(f"from_timm_vit does not support these timm ViT features: {', '.join(problems)}")


def _copy_linear(dst: nn.Linear | nn.Conv2d, src: nn.Linear | nn.Conv2d) -> None:
    dst.weight.copy_(src.weight)
    dst.bias.copy_(src.bias if src.bias is not None else torch.zeros_like(dst.bias))


def _copy_norm(dst: nn.LayerNorm, src: nn.LayerNorm) -> None:
    dst.weight.copy_(src.weight)
    dst.bias.copy_(src.bias)


def _build(model: VisionTransformer) -> ViTClassifier:
    block = model.blocks[0]
    cfg = getattr(model, "pretrained_cfg", None) or {}
    channels = model.patch_embed.proj.in_channels
    mean, std = cfg.get("mean", (0.5,)), cfg.get("std", (0.5,))
    if len(mean) not in (1, channels) or len(std) not in (1, channels):
        mean, std = (0.5,), (0.5,)
    tokenizer = ImagePatchTokenizer(
        model.embed_dim, image_size=model.patch_embed.img_size, patch_size=model.patch_embed.patch_size[0],
        channels=channels, mean=mean, std=std, positions="learned", class_token=model.cls_token is not None,
    )
    encoder = Encoder(
        model.embed_dim, block.attn.num_heads, len(model.blocks), block.mlp.fc1.out_features, dropout=0.0,
        norm_first=True, activation="gelu", layer_norm_eps=block.norm1.eps, final_norm=not _is_identity(model.norm),
    )
    fc_norm = None if _is_identity(model.fc_norm) else nn.LayerNorm(model.embed_dim, eps=model.fc_norm.eps)
    head = nn.Linear(model.embed_dim, model.head.out_features)
    return ViTClassifier(tokenizer, encoder, head, pool=model.global_pool, head_norm=fc_norm)


@torch.no_grad()
def from_timm_vit(model: VisionTransformer) -> ViTClassifier:
    """Copy a timm ``VisionTransformer`` into a ``ViTClassifier`` that gives the same logits (eval mode).

    Args:
        model: a plain timm ViT (learned positions including the [CLS] position, pre-norm blocks,
            exact GELU, LayerNorm, [CLS] or average pooling).

    Returns:
        A ``ViTClassifier`` with the copied weights, in eval mode; unsupported timm features raise
        ``ValueError`` naming them.
    """
    _check_supported(model)
    classifier = _build(model)
    tokenizer, encoder = classifier.tokenizer, classifier.encoder
    _copy_linear(tokenizer.patch_embed, model.patch_embed.proj)
    if tokenizer.cls_token is not None:
        tokenizer.cls_token.copy_(model.cls_token)
    tokenizer.pos_embed.copy_(model.pos_embed)
    for layer, block in zip(encoder.layers, model.blocks):
        _copy_norm(layer.norm1, block.norm1)
        _copy_linear(layer.self_attn.qkv, block.attn.qkv)
        _copy_linear(layer.self_attn.out_proj, block.attn.proj)
        _copy_norm(layer.norm2, block.norm2)
        _copy_linear(layer.feed_forward.linear1, block.mlp.fc1)
        _copy_linear(layer.feed_forward.linear2, block.mlp.fc2)
    if encoder.norm is not None:
        _copy_norm(encoder.norm, model.norm)
    if classifier.head_norm is not None:
        _copy_norm(classifier.head_norm, model.fc_norm)
    _copy_linear(classifier.head, model.head)
    return classifier.eval()
