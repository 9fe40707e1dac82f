"""SMPL regression heads.

* :class:`SMPLTransformerDecoderHead` (HMR 2.0 / HardMo-4DHumans): one zero token, embedded and position-coded,
  runs through ``depth`` pre-norm layers of self-attention, cross-attention to the ViT image tokens, and a
  GELU feed-forward; linear read-outs add residuals to stored initial pose / shape / camera buffers.
* :class:`IEFRegressorHead` (HardMo-HMR, BEDLAM-HMR): average-pooled backbone features and the running estimate
  go through ``fc1 -> dropout -> fc2 -> dropout`` (no activation) ``n_iter`` times; each pass adds residuals.

Both heads return the raw 6D pose ``(B, 6 * num_joints)``, betas ``(B, num_betas)`` and the weak-perspective
camera ``(B, 3)`` ``[s, tx, ty]``; the 6D layout is decoded by the model (see ``geometry_hardmo``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

DECODER_LN_EPS = 1e-5  # PyTorch's default, as in the upstream decoder (the ViT uses 1e-6)


class DecoderAttention(nn.Module):
    """Multi-head attention of the SMPL decoder (self-attention, or cross-attention when ``context_dim`` is set).

    The feature axis splits as ``(heads, dim_head)`` with heads outermost; scores are ``(q k^T) * dim_head^-0.5``
    (scale after the product, as upstream), softmax over keys, heads concatenated, then ``to_out``.
    """

    def __init__(self, dim: int, heads: int, dim_head: int, context_dim: int | None = None):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.scale = dim_head**-0.5
        self.is_cross = context_dim is not None
        if self.is_cross:
            self.to_q = nn.Linear(dim, inner, bias=False)
            self.to_kv = nn.Linear(context_dim, 2 * inner, bias=False)
        else:
            self.to_qkv = nn.Linear(dim, 3 * inner, bias=False)
        # Upstream drops the output projection when a single head already has the model width.
        self.to_out = nn.Linear(inner, dim) if not (heads == 1 and dim_head == dim) else nn.Identity()

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape
        return x.reshape(batch, tokens, self.heads, -1).transpose(1, 2)  # (B, heads, N, dim_head)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if self.is_cross:
            q = self.to_q(x)
            k, v = self.to_kv(context).chunk(2, dim=-1)
        else:
            q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q, k, v = self._split(q), self._split(k), self._split(v)
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        out = torch.matmul(scores.softmax(dim=-1), v)
        out = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
        return self.to_out(out)


class DecoderFeedForward(nn.Module):
    """``fc1`` (dim -> mlp_dim) -> exact GELU -> dropout -> ``fc2`` (mlp_dim -> dim)."""

    def __init__(self, dim: int, mlp_dim: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(F.gelu(self.fc1(x))))


class DecoderLayer(nn.Module):
    """``x = SA(LN(x)) + x``; ``x = CA(LN(x), context) + x``; ``x = FF(LN(x)) + x`` (LayerNorm eps 1e-5)."""

    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int, context_dim: int):
        super().__init__()
        self.self_attn_norm = nn.LayerNorm(dim, eps=DECODER_LN_EPS)
        self.self_attn = DecoderAttention(dim, heads, dim_head)
        self.cross_attn_norm = nn.LayerNorm(dim, eps=DECODER_LN_EPS)
        self.cross_attn = DecoderAttention(dim, heads, dim_head, context_dim=context_dim)
        self.ffn_norm = nn.LayerNorm(dim, eps=DECODER_LN_EPS)
        self.ffn = DecoderFeedForward(dim, mlp_dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = self.self_attn(self.self_attn_norm(x)) + x
        x = self.cross_attn(self.cross_attn_norm(x), context) + x
        return self.ffn(self.ffn_norm(x)) + x


class SMPLTransformerDecoderHead(nn.Module):
    """HMR 2.0's SMPL head: a single query token cross-attending to the image tokens.

    Buffers ``init_body_pose (1, 6J)``, ``init_betas (1, num_betas)``, ``init_cam (1, 3)`` are persistent: they
    come from the checkpoint.
    """

    def __init__(self, config):
        super().__init__()
        dim = config.decoder_dim
        self.token_embedding = nn.Linear(1, dim)
        self.position_embedding = nn.Parameter(torch.zeros(1, 1, dim))
        self.layers = nn.ModuleList(
            DecoderLayer(dim, config.decoder_heads, config.decoder_dim_head, config.decoder_mlp_dim, config.decoder_context_dim)
            for _ in range(config.decoder_depth)
        )
        self.decpose = nn.Linear(dim, config.npose)
        self.decshape = nn.Linear(dim, config.num_betas)
        self.deccam = nn.Linear(dim, 3)
        self.register_buffer("init_body_pose", torch.zeros(1, config.npose))
        self.register_buffer("init_betas", torch.zeros(1, config.num_betas))
        self.register_buffer("init_cam", torch.zeros(1, 3))

    def decode_token(self, context: torch.Tensor) -> torch.Tensor:
        """Image tokens ``(B, N, C)`` -> decoder output token ``(B, decoder_dim)``."""
        zero = torch.zeros(context.shape[0], 1, 1, dtype=context.dtype, device=context.device)
        token = self.token_embedding(zero) + self.position_embedding
        for layer in self.layers:
            token = layer(token, context)
        return token[:, 0]

    def forward(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Image tokens ``(B, N, C)`` -> ``(pose_6d (B, 6J), betas (B, num_betas), cam (B, 3))``."""
        token = self.decode_token(context)
        pose_6d = self.decpose(token) + self.init_body_pose
        betas = self.decshape(token) + self.init_betas
        cam = self.deccam(token) + self.init_cam
        return pose_6d, betas, cam


class IEFRegressorHead(nn.Module):
    """Iterative error feedback regressor of HMR (SPIN / BEDLAM ``HMRHeadOrig`` / HardMo ``HMRDecoderHead``).

    Per iteration: ``xc = fc2(drop(fc1(cat[xf, pose_6d, betas, cam])))`` (no activation), then
    ``pose_6d += decpose(xc)``, ``betas += decshape(xc)``, ``cam += deccam(xc)``; starting from the persistent
    ``init_*`` buffers.
    """

    def __init__(self, config, in_features: int):
        super().__init__()
        hidden = config.head_hidden_dim
        self.n_iter = config.n_iter
        self.fc1 = nn.Linear(in_features + config.npose + config.num_betas + 3, hidden)
        self.drop1 = nn.Dropout(config.head_dropout)
        self.fc2 = nn.Linear(hidden, hidden)
        self.drop2 = nn.Dropout(config.head_dropout)
        self.decpose = nn.Linear(hidden, config.npose)
        self.decshape = nn.Linear(hidden, config.num_betas)
        self.deccam = nn.Linear(hidden, 3)
        self.register_buffer("init_body_pose", torch.zeros(1, config.npose))
        self.register_buffer("init_betas", torch.zeros(1, config.num_betas))
        self.register_buffer("init_cam", torch.zeros(1, 3))

    def forward(self, pooled: torch.Tensor, return_iterations: bool = False):
        """Pooled features ``(B, F)`` -> ``(pose_6d, betas, cam)``; with ``return_iterations`` also the list of
        ``(pose_6d, betas, cam)`` after each iteration."""
        batch = pooled.shape[0]
        pose_6d = self.init_body_pose.expand(batch, -1)
        betas = self.init_betas.expand(batch, -1)
        cam = self.init_cam.expand(batch, -1)
        iterations = []
        for _ in range(self.n_iter):
            xc = torch.cat([pooled, pose_6d, betas, cam], dim=1)
            xc = self.drop2(self.fc2(self.drop1(self.fc1(xc))))
            pose_6d = self.decpose(xc) + pose_6d
            betas = self.decshape(xc) + betas
            cam = self.deccam(xc) + cam
            if return_iterations:
                iterations.append((pose_6d, betas, cam))
        if return_iterations:
            return pose_6d, betas, cam, iterations
        return pose_6d, betas, cam
