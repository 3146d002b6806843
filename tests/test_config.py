"""TrialConfig: validation (one-line errors naming the key), method-dependent defaults, normalisation."""

from __future__ import annotations

import pytest

from lora_sweep.trial.config import DEFAULT_LR, LORA_ONLY, METHODS, ConfigError, TrialConfig

BAD_VALUES = [
    # (settings, key the message must name)
    ({"r": 0}, "r"),
    ({"r": -4}, "r"),
    ({"r": 2.5}, "r"),
    ({"r": "8"}, "r"),
    ({"r": True}, "r"),
    ({"alpha": 0}, "alpha"),
    ({"alpha": -1.0}, "alpha"),
    ({"alpha": float("nan")}, "alpha"),
    ({"dropout": -0.1}, "dropout"),
    ({"dropout": 1.0}, "dropout"),
    ({"dropout": 1.5}, "dropout"),
    ({"learning_rate": 0}, "learning_rate"),
    ({"learning_rate": -1e-4}, "learning_rate"),
    ({"learning_rate": float("inf")}, "learning_rate"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": 1.5}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": -8}, "batch_size"),
    ({"max_train_samples": 0}, "max_train_samples"),
    ({"warmup_ratio": 1.0}, "warmup_ratio"),
    ({"device": "tpu"}, "device"),
    ({"group_by_length": "yes"}, "group_by_length"),
    ({"group_by_length": 1}, "group_by_length"),
    ({"target_modules": []}, "target_modules"),  # not silently the architecture's default
    ({"target_modules": 5}, "target_modules"),
    ({"target_modules": ""}, "target_modules"),
    ({"target_modules": ["query", ""]}, "target_modules"),
    ({"target_modules": "query,"}, "target_modules"),
    ({"method": "xyz"}, "method"),
    ({"task": "foo"}, "task"),
    ({"task": "sst3"}, "task"),
]


def _one_line_naming(err: ConfigError, key: str) -> str:
    message = str(err)
    assert "\n" not in message, message
    assert message.startswith(f"{key}:"), message
    return message


@pytest.mark.parametrize(("settings", "key"), BAD_VALUES, ids=[f"{k}={v}" for (s, k) in BAD_VALUES for v in s.values()])
def test_bad_value_is_one_line_error_naming_the_key(settings, key):
    with pytest.raises(ConfigError) as info:
        TrialConfig(**settings)
    _one_line_naming(info.value, key)


@pytest.mark.parametrize(("settings", "key"), BAD_VALUES[:3])
def test_from_dict_validates_too(settings, key):
    with pytest.raises(ConfigError) as info:
        TrialConfig.from_dict({"method": "lora", **settings})
    _one_line_naming(info.value, key)


def test_config_error_is_a_value_error():
    # Callers (the CLI) catch ValueError to exit with code 2.
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize(
    ("method", "suggestion"),
    [("lorra", "lora"), ("ful", "full"), ("bitfi", "bitfit"), ("heads", "head")],
)
def test_unknown_method_lists_allowed_and_suggests(method, suggestion):
    with pytest.raises(ConfigError) as info:
        TrialConfig(method=method)
    message = _one_line_naming(info.value, "method")
    assert f"'{method}'" in message
    assert f"did you mean '{suggestion}'" in message
    for allowed in METHODS:
        assert allowed in message


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("learning_rat", "learning_rate"), ("seeed", "seed"), ("epoch", "epochs"), ("target_module", "target_modules")],
)
def test_unknown_key_suggests_nearest(key, suggestion):
    with pytest.raises(ConfigError) as info:
        TrialConfig.from_dict({key: 1})
    message = str(info.value)
    assert "\n" not in message
    assert f"'{key}'" in message
    assert f"did you mean '{suggestion}'" in message


def test_unknown_key_far_from_everything_has_no_suggestion():
    with pytest.raises(ConfigError) as info:
        TrialConfig.from_dict({"zzzzzz": 1})
    assert "'zzzzzz'" in str(info.value)
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize("task", ["foo", "sst", "GLUE"])
def test_unknown_task_names_the_task(task):
    with pytest.raises(ConfigError) as info:
        TrialConfig(task=task)
    message = _one_line_naming(info.value, "task")
    assert repr(task) in message
    assert "sst2" in message and "mrpc" in message  # lists the known tasks


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("sst2", "sst2"), ("SST-2", "sst2"), ("sst-2", "sst2"), ("MRPC", "mrpc"), ("STS-B", "stsb")],
)
def test_task_is_canonicalised(given, canonical):
    assert TrialConfig(task=given).task == canonical
    assert TrialConfig.from_dict({"task": given}).task == canonical


@pytest.mark.parametrize("method", ["full", "head", "bitfit"])
def test_lora_only_fields_are_none_for_other_methods(method):
    # Even bad LoRA values are ignored: they do not apply to this method.
    cfg = TrialConfig(method=method, r=0, alpha=-1, dropout=2.0, target_modules="query", init_adapter="/x")
    for key in LORA_ONLY:
        assert getattr(cfg, key) is None, key


def test_lora_keeps_its_fields():
    cfg = TrialConfig(method="lora", r=4, alpha=8.0, dropout=0.1, target_modules=("query",))
    assert (cfg.r, cfg.alpha, cfg.dropout, cfg.target_modules) == (4, 8.0, 0.1, ("query",))


@pytest.mark.parametrize("method", METHODS)
def test_default_learning_rate_per_method(method):
    assert TrialConfig(method=method).learning_rate == DEFAULT_LR[method]
    assert TrialConfig(method=method, learning_rate=3e-4).learning_rate == 3e-4


def test_default_learning_rates_differ_by_method():
    # LoRA takes larger steps than full fine-tuning (paper Table 9 vs. the usual BERT recipe).
    assert DEFAULT_LR["lora"] > DEFAULT_LR["full"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("query,key", ("query", "key")),
        ("query, value ", ("query", "value")),
        ("query", ("query",)),
        (["query", "value"], ("query", "value")),
        (("q_lin",), ("q_lin",)),
        (None, None),
    ],
)
def test_target_modules_become_a_tuple(given, expected):
    cfg = TrialConfig(target_modules=given)
    assert cfg.target_modules == expected
    assert TrialConfig.from_dict({"target_modules": given}).target_modules == expected


def test_config_is_frozen_and_hashable_comparison():
    cfg = TrialConfig()
    with pytest.raises(AttributeError):
        cfg.r = 4  # type: ignore[misc]
    assert cfg == TrialConfig()
    assert cfg != TrialConfig(r=4)


def test_with_changes_revalidates():
    cfg = TrialConfig()
    assert cfg.with_changes(r=16).r == 16
    with pytest.raises(ConfigError, match="^r:"):
        cfg.with_changes(r=0)


def test_to_dict_round_trips():
    cfg = TrialConfig(method="lora", r=4, task="SST-2", target_modules="query,key", learning_rate=1e-3)
    assert TrialConfig.from_dict(cfg.to_dict()) == cfg
    assert "extra" not in cfg.to_dict()
