"""The authors' published generator weights (PATN, PoNA, APS, GFLA) as an augreid `generator.pt` payload.

An official state dict differs from augreid's only in its key names: strip the wrapper prefix (`model.`, and
`module.` of DataParallel), rename each key by the first rule of its generator that matches (by name, never by
order: APS's image and pose down-convs have equal shapes, PoNA registers its modules in another order), infer the
architecture from the tensors, and require that every official tensor finds a place of its shape and every
augreid tensor is filled. Anything else is an `InputError` naming the file and the first key that does not fit.

A rule is a pair of name starts, `(official, augreid)`; `{i}` stands for a layer index, kept unchanged. The rules
for PATN, PoNA and APS follow the authors' key names, and `tests/test_official.py` reproduces the fixtures of
`tests/fixtures/official/` (the authors' own classes run on a synthetic crop, and on a real one where
`../shared/reference/official-fixtures/` is present). GFLA's are read from its repository
(RenYurui/Global-Flow-Local-Attention: `model/networks/generator.py`, `base_function.py` at 150abe5,
`model/pose_model.py` at 08f6c09); its official ops run only on CUDA, so for GFLA the key mapping is tested, not
the numbers.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path

import torch
from torch import nn

from augreid.config import GENERATOR_NAMES, GeneratorArchitecture, GeneratorsConfig
from augreid.core.atomic import file_sha256
from augreid.core.errors import InputError, one_line
from augreid.core.tensors_file import read_tensors_file
from augreid.models import build_generator
from augreid.sources.checkpoint import generator_payload

Rule = tuple[str, str]
StateDict = dict[str, torch.Tensor]

OFFICIAL_CODE = {
    "patn": "github.com/tengteng95/Pose-Transfer",
    "pona": "github.com/Zhangjinso/PoNA",
    "aps": "github.com/siyuhuang/PoseStylizer",
    "gfla": "github.com/RenYurui/Global-Flow-Local-Attention",
}

# `DataParallel` adds `module.`; PATN's, PoNA's and APS's networks wrap the generator as `.model`
WRAPPER_PREFIXES = ("module.", "model.")

ENCODERS_AND_DECODER: list[Rule] = [
    ("stream1_down.", "image_encoder."),
    ("stream2_down.", "pose_encoder."),
    ("stream1_up.", "decoder."),
]

PATN_RULES: list[Rule] = ENCODERS_AND_DECODER + [
    ("att.{i}.conv_block_stream1.", "blocks.{i}.image_stream."),
    ("att.{i}.conv_block_stream2.", "blocks.{i}.pose_stream."),
]

# Trained with --no_dropout, PATN's block streams have no Dropout module, so the layers after the first ReLU sit
# one index lower than in augreid's streams, which always hold one (of p 0 then)
PATN_NO_DROPOUT_RULES: list[Rule] = [
    ("att.{i}.conv_block_stream1.5.", "blocks.{i}.image_stream.6."),
    ("att.{i}.conv_block_stream1.6.", "blocks.{i}.image_stream.7."),
    ("att.{i}.conv_block_stream2.5.", "blocks.{i}.pose_stream.6."),
] + PATN_RULES

PONA_RULES: list[Rule] = ENCODERS_AND_DECODER + [
    ("att.{i}.att2.query_conv.", "blocks.{i}.self_attention.query."),
    ("att.{i}.att2.key_conv.", "blocks.{i}.self_attention.key."),
    ("att.{i}.att2.value_conv.", "blocks.{i}.self_attention.value."),
    ("att.{i}.att2.gamma", "blocks.{i}.self_attention.gamma"),
    ("att.{i}.att2.beta", "blocks.{i}.self_attention.beta"),
    ("att.{i}.dconv.conv.", "blocks.{i}.pose_first.body."),
    ("att.{i}.dconv2.conv.", "blocks.{i}.pose_second.body."),
    ("att.{i}.conv.conv.", "blocks.{i}.image_path.0.body."),
    ("att.{i}.conv2.conv.", "blocks.{i}.image_path.1.body."),
    ("att.{i}.query_conv.", "blocks.{i}.non_local.f."),
    ("att.{i}.key_conv.", "blocks.{i}.non_local.g."),
    ("att.{i}.value_conv.", "blocks.{i}.non_local.h."),
    ("att.{i}.gamma", "blocks.{i}.non_local.gamma"),
]


def aps_rules(blocks: int) -> list[Rule]:
    """APS's rules; augreid's `blocks` is the official `n_downsampling`."""
    last = blocks - 1
    return [
        ("psf_down.", "encoder.image_stem."),
        ("bps_down.", "encoder.pose_stem."),
        ("down_blocks.{i}.conv_block_down_stream1.", "encoder.blocks.{i}.image_down."),
        ("down_blocks.{i}.conv_block_stream1.", "encoder.blocks.{i}.image_conv."),
        ("down_blocks.{i}.conv_block_down_stream2.", "encoder.blocks.{i}.pose_down."),
        ("down_blocks.{i}.conv_block_stream2.", "encoder.blocks.{i}.pose_conv."),
        ("up_blocks_fg.{i}.image_up_sample.", "foreground.{i}.up."),
        ("up_blocks_fg.{i}.patchnorm1.fc.", "foreground.{i}.adapn1.style."),
        ("up_blocks_fg.{i}.conv1.", "foreground.{i}.conv."),
        ("up_blocks_fg.{i}.patchnorm2.fc.", "foreground.{i}.adapn2.style."),
        ("up_blocks_fg.{i}.att.", "foreground.{i}.mask."),
        # the last synthesis layer pads, then convolves 7x7: augreid nests pad and conv, the official code does not
        (f"up_blocks_full.{last}.layer.1.", f"synthesis.{last}.0.1."),
        (f"up_blocks_full.{last}.layer.2.", f"synthesis.{last}.1."),
        ("up_blocks_full.{i}.layer.", "synthesis.{i}."),
        ("out_node_full.", "output."),
    ]


# GFLA's published Market-1501 generator: `PoseGenerator(layers=3, num_blocks=2, attn_layer=[2], norm='instance',
# use_spect=False)`; its encoders number their first block `block0`, the next ones `encoder0`, `encoder1`, ...
GFLA_RULES: list[Rule] = [
    ("source.block0.model.", "source_encoder.0."),
    ("source.encoder0.model.", "source_encoder.1."),
    ("source.encoder1.model.", "source_encoder.2."),
    ("target.block0.model.", "target_encoder.0."),
    ("target.encoder0.model.", "target_encoder.1."),
    ("target.encoder1.model.", "target_encoder.2."),
    ("target.decoder{i}.0.model.0.model.", "decoder.{i}.0.body."),
    ("target.decoder{i}.1.model.", "decoder.{i}.1.body."),
    ("target.decoder{i}.1.shortcut.0.", "decoder.{i}.1.shortcut."),
    ("target.attn1.fully_connect_layer.", "attention.weights."),
    ("target.outconv.model.2.", "output.2."),
    ("flow_net.block0.model.", "flow_net.encoder.0."),
    ("flow_net.encoder0.model.", "flow_net.encoder.1."),
    ("flow_net.encoder1.model.", "flow_net.encoder.2."),
    ("flow_net.encoder2.model.", "flow_net.encoder.3."),
    ("flow_net.encoder3.model.", "flow_net.encoder.4."),
    ("flow_net.decoder{i}.model.", "flow_net.decoder.{i}.body."),
    ("flow_net.decoder{i}.shortcut.0.", "flow_net.decoder.{i}.shortcut."),
    ("flow_net.jump{i}.model.2.", "flow_net.skips.{i}.2."),
    ("flow_net.output2.", "flow_net.flow."),
    ("flow_net.mask2.0.", "flow_net.mask.0."),
]

# GFLA's `Output` and `Jump` register their conv twice (as `conv1` and inside `model`), so the official files hold
# it under both names: (second name, first name), both official
GFLA_ALIASES: list[Rule] = [
    ("target.outconv.conv1.", "target.outconv.model.2."),
    ("flow_net.jump{i}.conv1.", "flow_net.jump{i}.model.2."),
]

# One key that only that generator's files hold, after the wrapper prefixes
SIGNATURES = {
    "patn": "att.0.conv_block_stream1.",
    "pona": "att.0.att2.",
    "aps": "psf_down.",
    "gfla": "flow_net.block0.",
}


@functools.lru_cache(maxsize=None)
def _pattern(template: str) -> re.Pattern:
    """A name start with `{i}` as a regex; a template that names a whole tensor (no final dot) matches only it."""
    regex = r"(\d+)".join(re.escape(part) for part in template.split("{i}"))
    return re.compile(regex if template.endswith(".") else regex + "$")


def rename(key: str, rules: list[Rule], reverse: bool = False) -> str | None:
    """The key renamed by the first rule that matches its start (official -> augreid, or back with `reverse`);
    None when none does."""
    for official, augreid in rules:
        source, target = (augreid, official) if reverse else (official, augreid)
        match = _pattern(source).match(key)
        if match:
            return target.replace("{i}", match.group(1) if match.groups() else "") + key[match.end():]
    return None


def rules_for(name: str, architecture: GeneratorArchitecture) -> list[Rule]:
    if name == "patn":
        return PATN_RULES if architecture.dropout > 0 else PATN_NO_DROPOUT_RULES
    if name == "pona":
        return PONA_RULES
    if name == "aps":
        return aps_rules(architecture.blocks)
    return GFLA_RULES


def aliases_for(name: str) -> list[Rule]:
    return GFLA_ALIASES if name == "gfla" else []


def read_state_dict(path: Path) -> StateDict:
    return checked_state_dict(read_tensors_file(path, "file does not exist", "not a PyTorch weights file"), str(path))


def checked_state_dict(loaded: object, label: str) -> StateDict:
    """A plain {name: tensor} dict, or a clear error (a training checkpoint that wraps the state dict, say)."""
    if not isinstance(loaded, dict) or not loaded:
        raise InputError(f"{label}: not a state dict of tensors (found {type(loaded).__name__}"
                         f"{' (empty)' if isinstance(loaded, dict) else ''})")
    for key, value in loaded.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise InputError(f"{label}: not a plain state dict of tensors: key {key!r} holds a {type(value).__name__} "
                             f"(save the generator's own state_dict())")
    return dict(loaded)


def wrapper_prefix(state: StateDict) -> str:
    """`module.model.`, `module.`, `model.` or '': what every key starts with."""
    prefix = ""
    for part in WRAPPER_PREFIXES:
        if all(key.startswith(prefix + part) for key in state):
            prefix += part
    return prefix


def guess_generator(state: StateDict, label: str) -> str:
    found = [name for name, signature in SIGNATURES.items() if any(key.startswith(signature) for key in state)]
    if len(found) != 1:
        raise InputError(f"{label}: cannot tell which generator these weights are for "
                         f"({'looks like ' + ' and '.join(found) if found else 'no known key names'}); "
                         f"pass --generator")
    return found[0]


def layer_count(state: StateDict, module: str) -> int:
    """How many `module.{i}.` layers the keys name (the highest index + 1: a gap shows up as a missing key)."""
    indices = [int(m.group(1)) for key in state if (m := re.match(rf"{re.escape(module)}\.(\d+)\.", key))]
    return max(indices) + 1 if indices else 0


def width(state: StateDict, key: str, name: str, label: str) -> int:
    if key not in state:
        raise InputError(f"{label}: no official key '{key}' (after the wrapper prefix): not {name} weights?")
    return state[key].shape[0]


def infer_architecture(name: str, state: StateDict, label: str) -> GeneratorArchitecture:
    """The shape the weights describe; what has no tensor takes the published Market-1501 value (dropout, which
    only training uses). Batch norm leaves running statistics, instance norm (no affine) nothing."""
    norm = "batch" if any(key.endswith(".running_mean") for key in state) else "instance"
    if name == "patn":
        no_dropout = any(re.match(r"att\.\d+\.conv_block_stream2\.5\.", key) for key in state)
        shape = dict(blocks=layer_count(state, "att"), ngf=width(state, "stream1_down.1.weight", name, label),
                     norm=norm, dropout=0.0 if no_dropout else 0.5)
    elif name == "pona":  # its units always hold Dropout(0.5)
        shape = dict(blocks=layer_count(state, "att"), ngf=width(state, "stream1_down.1.weight", name, label),
                     norm=norm, dropout=0.5)
    elif name == "aps":
        shape = dict(blocks=layer_count(state, "down_blocks"), ngf=width(state, "psf_down.1.weight", name, label),
                     norm=norm)
    else:  # GFLA: 3 encoder layers; instance norm and no dropout are fixed by the model
        shape = dict(ngf=width(state, "source.block0.model.2.weight", name, label))
    try:
        return dataclasses.replace(GeneratorsConfig().architecture(name), **shape)
    except ValueError as err:
        raise InputError(f"{label}: these {name} weights describe no buildable architecture "
                         f"({one_line(err)})") from None


def describe_model(name: str, model: nn.Module, architecture: GeneratorArchitecture) -> str:
    a = architecture
    fields = f"ngf={a.ngf}" if name == "gfla" else f"blocks={a.blocks}, ngf={a.ngf}, norm={a.norm}, dropout={a.dropout}"
    return f"{type(model).__name__}({fields})"


def without_aliases(state: StateDict, aliases: list[Rule], label: str, prefix: str) -> StateDict:
    """The state dict without the second names of layers saved twice, once each is checked to repeat the first."""
    kept = dict(state)
    for key, tensor in state.items():
        first = rename(key, aliases)
        if first is None:
            continue
        if first not in state or not torch.equal(state[first], tensor):
            raise InputError(f"{label}: official key '{prefix}{key}' should repeat '{prefix}{first}' (one layer saved "
                             f"under two names), but {'that key is missing' if first not in state else 'differs'}")
        del kept[key]
    return kept


def to_augreid(state: StateDict, rules: list[Rule], model: nn.Module, label: str, prefix: str,
               description: str) -> StateDict:
    """The official tensors under augreid's names; every one must find a place of its shape, every augreid tensor
    must be filled (a missing batch-norm counter is 0: PyTorch < 0.4.1 saved none)."""
    expected = model.state_dict()
    mapped: StateDict = {}
    origin: dict[str, str] = {}
    for key, tensor in state.items():
        name = rename(key, rules)
        if name is None or name not in expected:
            raise InputError(f"{label}: official key '{prefix}{key}' has no place in {description}")
        if name in mapped:
            raise InputError(f"{label}: official keys '{prefix}{origin[name]}' and '{prefix}{key}' both map to "
                             f"'{name}' of {description}")
        if tensor.shape != expected[name].shape:
            raise InputError(f"{label}: official key '{prefix}{key}' has shape {tuple(tensor.shape)}, but '{name}' of "
                             f"{description} has {tuple(expected[name].shape)}")
        mapped[name], origin[name] = tensor, key
    for name, tensor in expected.items():
        if name in mapped:
            continue
        if not name.endswith(".num_batches_tracked"):
            official = rename(name, rules, reverse=True)
            hint = f" (official key '{prefix}{official}')" if official else ""
            raise InputError(f"{label}: augreid key '{name}' of {description} is not filled by the official file{hint}")
        mapped[name] = torch.zeros_like(tensor)
    return mapped


def to_official(name: str, architecture: GeneratorArchitecture, state: StateDict, prefix: str = "") -> StateDict:
    """augreid's tensors under the official names (with the layers the official code saves twice): the rules
    backwards, for tests and for anyone who wants to load augreid weights into the authors' code."""
    rules, aliases = rules_for(name, architecture), aliases_for(name)
    official = {rename(key, rules, reverse=True): tensor for key, tensor in state.items()}
    official |= {alias: official[key] for key in list(official) if (alias := rename(key, aliases, reverse=True))}
    return {prefix + key: tensor for key, tensor in official.items()}


def convert_official(generator_name: str | None, source: str | Path | StateDict) -> dict:
    """An official state dict (a file, or one in memory) as an augreid generator payload (`checkpoint.save` writes
    it as `generator.pt`); the generator is guessed from the key names when `generator_name` is None."""
    if generator_name is not None and generator_name not in GENERATOR_NAMES:
        raise InputError(f"unknown generator '{generator_name}' (known: {', '.join(GENERATOR_NAMES)})")
    if isinstance(source, dict):
        label, state, origin = "state dict", checked_state_dict(source, "state dict"), {"path": None, "sha256": None}
    else:
        path = Path(source)
        label, state = str(path), read_state_dict(path)
        origin = {"path": str(path.resolve()), "sha256": file_sha256(path)}
    prefix = wrapper_prefix(state)
    state = {key[len(prefix):]: tensor for key, tensor in state.items()}
    name = generator_name or guess_generator(state, label)
    architecture = infer_architecture(name, state, label)
    model = build_generator(name, architecture)
    description = describe_model(name, model, architecture)
    state = without_aliases(state, aliases_for(name), label, prefix)
    model.load_state_dict(to_augreid(state, rules_for(name, architecture), model, label, prefix, description))
    provenance = {"origin": "official", "official_code": OFFICIAL_CODE[name], **origin, "key_prefix": prefix}
    return generator_payload(name, architecture, model, step=0, provenance=provenance)
