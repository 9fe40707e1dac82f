"""Pose-HRNet backbone of HardMo-HMR and BEDLAM-HMR (``downsample=True, use_conv=True`` variant).

Input ``(B, 3, H, W)`` ImageNet-normalised RGB; output ``(B, 15W, H/32, W/32)`` (``(B, 720, 7, 7)`` for W48 at
224 px): the four branches of stage 4 (``W, 2W, 4W, 8W`` channels at strides 4, 8, 16, 32) with the first three
brought to stride 32 by strided 3x3 convolutions and concatenated ``[ds1(b0), ds2(b1), ds3(b2), b3]``.

Module names follow the upstream pose-HRNet so that checkpoints map one-to-one (``conv1``, ``layer1.0.conv1``,
``transition1.0.0``, ``stage2.0.fuse_layers.1.0.0.0``, ``downsample_stage_1.0`` ...). The unused heatmap head
(``final_layer``) is not built. All convolutions are bias-free; every BatchNorm uses eps 1e-5 and directly follows
its convolution, so :meth:`HardMoHRNet.fold_batchnorm` can fold all of them into the convolutions for inference.
"""

from __future__ import annotations

import torch
from torch import nn

BN_EPS = 1e-5
BN_MOMENTUM = 0.1
LAYER1_PLANES = 64
BOTTLENECK_EXPANSION = 4


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class HRNetBasicBlock(nn.Module):
    """3x3 -> BN -> ReLU -> 3x3 -> BN, plus the identity, -> ReLU (channels unchanged)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.bn1 = _bn(channels)
        self.conv2 = _conv3x3(channels, channels)
        self.bn2 = _bn(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + x)


class HRNetBottleneck(nn.Module):
    """1x1 -> BN -> ReLU -> 3x3 -> BN -> ReLU -> 1x1 (x4 channels) -> BN, plus the (projected) input, -> ReLU."""

    def __init__(self, in_channels: int, planes: int):
        super().__init__()
        out_channels = planes * BOTTLENECK_EXPANSION
        self.conv1 = nn.Conv2d(in_channels, planes, kernel_size=1, bias=False)
        self.bn1 = _bn(planes)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = _bn(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, kernel_size=1, bias=False)
        self.bn3 = _bn(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False), _bn(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


class HRNetModule(nn.Module):
    """One high-resolution module: parallel branches of BasicBlocks, then a multi-scale fuse.

    Output branch ``i`` is ``ReLU(sum_j f_ij(x_j))`` summed strictly left to right from ``j = 0``, with
    ``f_ii`` the identity, ``f_ij`` (j > i) a 1x1 conv + BN + nearest upsampling by ``2^(j-i)``, and ``f_ij``
    (j < i) ``i - j`` strided 3x3 conv + BN steps (ReLU between steps, none after the last).
    """

    def __init__(self, channels: list[int], num_blocks: int):
        super().__init__()
        self.num_branches = len(channels)
        self.branches = nn.ModuleList(
            nn.Sequential(*(HRNetBasicBlock(c) for _ in range(num_blocks))) for c in channels
        )
        fuse_layers = []
        for i in range(self.num_branches):
            row = nn.ModuleList()
            for j in range(self.num_branches):
                if j > i:
                    row.append(
                        nn.Sequential(
                            nn.Conv2d(channels[j], channels[i], kernel_size=1, bias=False),
                            _bn(channels[i]),
                            nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
                        )
                    )
                elif j == i:
                    row.append(None)
                else:
                    steps = []
                    for k in range(i - j):
                        last = k == i - j - 1
                        out_channels = channels[i] if last else channels[j]
                        step = [_conv3x3(channels[j], out_channels, stride=2), _bn(out_channels)]
                        if not last:
                            step.append(nn.ReLU(inplace=True))
                        steps.append(nn.Sequential(*step))
                    row.append(nn.Sequential(*steps))
            fuse_layers.append(row)
        self.fuse_layers = nn.ModuleList(fuse_layers)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        x = [branch(t) for branch, t in zip(self.branches, inputs)]
        outputs = []
        for i in range(self.num_branches):
            y = x[0] if i == 0 else self.fuse_layers[i][0](x[0])
            for j in range(1, self.num_branches):
                y = y + (x[j] if i == j else self.fuse_layers[i][j](x[j]))
            outputs.append(self.relu(y))
        return outputs


def _transition(previous: list[int], current: list[int]) -> nn.ModuleList:
    """Channel adapters into the next stage; a new branch is a strided conv from the last previous branch."""
    layers = nn.ModuleList()
    for i, channels in enumerate(current):
        if i < len(previous):
            if previous[i] != channels:
                layers.append(nn.Sequential(_conv3x3(previous[i], channels), _bn(channels), nn.ReLU(inplace=True)))
            else:
                layers.append(None)
        else:
            steps = []
            for k in range(i + 1 - len(previous)):
                in_channels = previous[-1]
                out_channels = channels if k == i - len(previous) else in_channels
                steps.append(
                    nn.Sequential(_conv3x3(in_channels, out_channels, stride=2), _bn(out_channels), nn.ReLU(inplace=True))
                )
            layers.append(nn.Sequential(*steps))
    return layers


def _fold_into_conv(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    """Fold an eval-mode BatchNorm into the convolution before it, in place (arithmetic in float64).

    ``BN(conv(x)) = conv'(x)`` with ``w' = w * g``, ``b' = beta + (b - mean) * g``, ``g = gamma / sqrt(var + eps)``
    per output channel. The result keeps the convolution's dtype and memory format.
    """
    scale = norm.weight.double() / torch.sqrt(norm.running_var.double() + norm.eps)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    weight = conv.weight.double() * scale.reshape(-1, 1, 1, 1)
    conv.weight = nn.Parameter(weight.to(conv.weight.dtype), requires_grad=False)  # strides (memory format) kept
    conv.bias = nn.Parameter(
        (norm.bias.double() + (bias - norm.running_mean.double()) * scale).to(conv.weight.dtype), requires_grad=False
    )


def _fold_children(module: nn.Module) -> int:
    """Fold the BatchNorms among ``module``'s direct children: ``convN``/``bnN`` attribute pairs, and a BatchNorm
    right after a convolution in a Sequential. Folded norms become ``nn.Identity``. Returns how many were folded."""
    children = dict(module.named_children())
    folded = 0
    for name, child in children.items():
        if not isinstance(child, nn.BatchNorm2d):
            continue
        if isinstance(module, nn.Sequential):
            index = list(children).index(name)
            conv = module[index - 1] if index > 0 else None
        else:
            conv = children.get(name.replace("bn", "conv", 1)) if name.startswith("bn") else None
        if isinstance(conv, nn.Conv2d):
            _fold_into_conv(conv, child)
            setattr(module, name, nn.Identity())
            folded += 1
    return folded


def _downsample_stage(channels: int, num_layers: int) -> nn.Sequential:
    """``num_layers`` x [3x3 stride-2 conv, BN, ReLU] as one flat Sequential (indices 0,1,2 / 3,4,5 ...)."""
    layers = []
    for _ in range(num_layers):
        layers += [_conv3x3(channels, channels, stride=2), _bn(channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class HardMoHRNet(nn.Module):
    """Pose-HRNet with the four stage-4 branches downsampled to stride 32 and concatenated.

    Args:
        width: ``W``; branch channels ``W, 2W, 4W, 8W``, output ``15W`` channels.
        stem_channels: channels of the two stride-2 stem convolutions (64).
        layer1_blocks: Bottleneck blocks of ``layer1`` (4; output 256 channels).
        stage_modules: HR modules in stages 2, 3, 4 (``[1, 4, 3]``).
        stage_blocks: BasicBlocks per branch per module in stages 2, 3, 4 (``[4, 4, 4]``).
    """

    def __init__(self, width: int, stem_channels: int, layer1_blocks: int, stage_modules, stage_blocks):
        super().__init__()
        self.conv1 = nn.Conv2d(3, stem_channels, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = _bn(stem_channels)
        self.conv2 = nn.Conv2d(stem_channels, stem_channels, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn2 = _bn(stem_channels)
        self.relu = nn.ReLU(inplace=True)
        layer1 = [HRNetBottleneck(stem_channels, LAYER1_PLANES)]
        layer1 += [HRNetBottleneck(LAYER1_PLANES * BOTTLENECK_EXPANSION, LAYER1_PLANES) for _ in range(layer1_blocks - 1)]
        self.layer1 = nn.Sequential(*layer1)

        branch_channels = [width * 2**i for i in range(4)]
        previous = [LAYER1_PLANES * BOTTLENECK_EXPANSION]
        for stage, (num_modules, num_blocks) in enumerate(zip(stage_modules, stage_blocks), start=2):
            current = branch_channels[:stage]
            setattr(self, f"transition{stage - 1}", _transition(previous, current))
            setattr(self, f"stage{stage}", nn.Sequential(*(HRNetModule(current, num_blocks) for _ in range(num_modules))))
            previous = current
        self.downsample_stage_1 = _downsample_stage(branch_channels[0], 3)
        self.downsample_stage_2 = _downsample_stage(branch_channels[1], 2)
        self.downsample_stage_3 = _downsample_stage(branch_channels[2], 1)
        self.out_channels = sum(branch_channels)
        self.batchnorm_folded = False  # set by fold_batchnorm()

    @torch.no_grad()
    def fold_batchnorm(self) -> int:
        """Fold every BatchNorm into its convolution, in place, for inference (returns the number folded).

        The folded network computes the same function in eval mode (to float rounding) with one convolution
        (with bias) per former conv + BN pair, which saves the separate BatchNorm passes over the activations.
        It can no longer be trained (no batch statistics) and its ``state_dict`` no longer has the checkpoint's
        layout (``bn*`` keys are gone, convolutions gain ``bias``): load a fresh model to train or save.
        """
        if self.training:
            raise RuntimeError("fold_batchnorm() needs eval mode (it folds the running statistics): call .eval() first")
        folded = sum(_fold_children(module) for module in self.modules())
        left = [name for name, module in self.named_modules() if isinstance(module, nn.BatchNorm2d)]
        if left:
            raise RuntimeError(f"BatchNorm layers without a preceding convolution could not be folded: {left}")
        self.batchnorm_folded = True
        return folded

    @staticmethod
    def _enter_stage(transition: nn.ModuleList, branches: list[torch.Tensor]) -> list[torch.Tensor]:
        outputs = []
        for i, layer in enumerate(transition):
            source = branches[i] if i < len(branches) else branches[-1]
            outputs.append(source if layer is None else layer(source))
        return outputs

    def forward(self, pixel_values: torch.Tensor, output_branches: bool = False):
        """``(B, 3, H, W)`` -> ``(B, 15W, H/32, W/32)``; with ``output_branches`` also the 4 stage-4 outputs."""
        x = self.relu(self.bn1(self.conv1(pixel_values)))
        x = self.relu(self.bn2(self.conv2(x)))
        branches = [self.layer1(x)]
        for stage in (2, 3, 4):
            branches = self._enter_stage(getattr(self, f"transition{stage - 1}"), branches)
            for module in getattr(self, f"stage{stage}"):
                branches = module(branches)
        features = torch.cat(
            [
                self.downsample_stage_1(branches[0]),
                self.downsample_stage_2(branches[1]),
                self.downsample_stage_3(branches[2]),
                branches[3],
            ],
            dim=1,
        )
        if output_branches:
            return features, branches
        return features
