"""Bad tasks of the user's own (``--task file.py:NAME``, ``--data``, ``--model``) for
``tests/test_bad_inputs.py``: each is refused before Ray starts, as one line.

``{w}`` stands for the test's workspace; a case's ``files`` are written there first.
"""

from __future__ import annotations

from bad_input_cases import A, Case, U, Y

_HEAD = "import numpy as np, torch\nfrom torch import nn\nimport bayesft_tune as bft\n"
_DIGITS = ("def data(seed):\n    from sklearn.datasets import load_digits\n    d = load_digits()\n"
           "    return bft.Splits.from_arrays(d.data, d.target, seed=seed, test_fraction=0.2)\n")
_MLP = "def mlp(hidden=(16,)):\n    return nn.Sequential(nn.Linear(64, hidden[0]), nn.ReLU(), nn.Linear(hidden[0], 10))\n"
_TASK = "TASK = bft.Task(name='t', model=mlp, data=data, epochs=1)\n"


def T(stem: str, body: str, match: str, name: str = "TASK") -> Case:
    """A search of the task file ``{w}/<stem>.py`` holding ``body`` (after the imports)."""
    return U("search", "--task", f"{{w}}/{stem}.py:{name}", match=match, files={f"{stem}.py": _HEAD + body})


def _splits(x: str, y: str, classes: int = 10) -> str:
    """A data function building Splits by hand from tensor expressions ``x`` and ``y``."""
    return ("def data(seed):\n    s = torch.utils.data.TensorDataset\n"
            f"    x, y = {x}, {y}\n    return bft.Splits(s(x, y), s(x, y), s(x, y), {classes}, (64,))\n")


USER_TASK = [
    U("search", "--task", "{w}/nofile.py:TASK", match="task file .*nofile.py' does not exist"),
    U("search", "--task", "no_such_pkg.tasks:TASK", match="task module 'no_such_pkg.tasks' is not importable"),
    T("ut_syntax", "def broken(:\n", match="ut_syntax.py' failed to import: SyntaxError"),
    T("ut_raises", "raise RuntimeError('no GPU here')\n", match="failed to import: RuntimeError: no GPU here"),
    T("ut_noname", _DIGITS + _MLP + _TASK, match="has no 'NOPE'; its Task objects are \\['TASK'\\]", name="NOPE"),
    T("ut_type", "TASK = 5\n", match="is a int, not a bayesft_tune.Task"),
    T("ut_args", "def TASK(x):\n    return x\n", match="not one of zero arguments"),
    T("ut_field", "TASK = bft.Task(name='t', model=5, data='mnist_embedded')\n", match="model must be a registered"),
    T("ut_shape", _DIGITS + "def mlp():\n    return nn.Sequential(nn.Linear(100, 8), nn.ReLU(), nn.Linear(8, 10))\n"
      + _TASK, match=r"forward fails on one batch of the data, inputs of shape \(8, 64\).*N x 64"),
    T("ut_logits", _DIGITS + "def mlp():\n    return nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 3))\n"
      + _TASK, match=r"to \(8, 3\); it must return logits of shape \(8, 10\)"),
    T("ut_labels", _splits("torch.randn(40, 64)", "torch.arange(40) % 12") + _MLP + _TASK,
      match=r"labels must be int64 in \[0, 10\).*got torch.int64 in \[0, 11\]"),
    T("ut_nan", _splits("torch.full((40, 64), float('nan'))", "torch.arange(40) % 10") + _MLP + _TASK,
      match="train inputs hold 2560 NaN or infinite values"),
    T("ut_nanarr", "def data(seed):\n    x = np.full((50, 64), np.nan)\n    return bft.Splits.from_arrays(x, "
      "np.arange(50) % 10, seed=seed, test_fraction=0.2)\n" + _MLP + _TASK, match="x holds 3200 NaN"),
    T("ut_small", "def data(seed):\n    return bft.Splits.from_arrays(np.random.rand(15, 64), np.arange(15) % 10, "
      "seed=seed, test_fraction=0.2)\n" + _MLP + _TASK, match="15 rows with 10 classes .* too few"),
    T("ut_notsplits", "def data(seed):\n    return (1, 2)\n" + _MLP + _TASK, match="must return bayesft_tune.Splits"),
    T("ut_slots", _DIGITS + "def mlp():\n    return nn.Linear(64, 10)\n" + _TASK, match="needs at least 2 Linear/Conv layers to have a dropout slot"),
    U("search", "--data", "{w}/digits8.npz", "--task", "mnist_mlp", match="together with --task 'mnist_mlp'"),
    U("search", "--model", "mlp", match="--model 'mlp' needs --data"),
    U("search", "--data", "{w}/missing.npz", match="missing.npz' does not exist"),
    U("search", "--data", "{w}/afile", match="is a file but not a .npz"),
    U("search", "--data", "{w}/partial.npz", match=r"missing \['x_test', 'y_test'\]"),
    U("search", "--data", "{w}/negative.npz", match="y holds a negative label"),
    U("search", "--data", "{w}/empty", match="train/<class>/<image>"),
    U("search", "--data", "{w}/digits8.npz", "--model", "lenet5", match=r"forward fails .*shape \(8, 1, 8, 8\)"),
    U("search", "--data", "{w}/digits8.npz", "--model", "resnet50", match="unknown model 'resnet50'"),
    Y("task: '{w}/nofile.py:TASK'\n", "nofile.py' does not exist"),
    U("search", "--drift", "reram_wan2022", "--objective-levels", "1h", match="--objective-levels: reram_wan2022 knows "
      r"only the time levels \[0.0, 1.0, 86400.0, 172800.0\] s"),
    U("search", "--drift", "pcm", "--robustness-levels", "1d,-1s", match="robustness_sigmas must be one or more numbers >= 0"),
    U("search", "--drift", "lognormal", "--gdc", match="--gdc .* applies to the device models"),
    U("search", "--drift", "pcm:speed=2", match="drift model 'pcm' has no parameter \\['speed'\\]"),
    A("search", "--objective-levels", "1fortnight", match="expected a number or a time such as 1s"),
    # run names are one path component; YAML values of the wrong type; seeds numpy can take
    *[U("search", "--name", n, match="name must be one plain path component") for n in ("..", ".", "a/b", "../escape",
                                                                                       "{w}/abs")],
    *[Y(f"{k}: 5\n", f"{k} must be") for k in ("storage_path", "name", "address", "data_dir")],
    U("search", "--seed", "4294967296", match=r"seed must be an integer in \[0, 2\*\*32\)"),
    U("search", "--data-seed", "4294967296", match=r"data_seed must be an integer in \[0, 2\*\*32\)"),
    U("search", "--config", "{w}/mlp.pt", match="could not read search config .* as YAML text"),
    U("search", "--resume", "", match="--resume needs the run directory"),
    U("search", "--name", "leftover", "--storage-path", "{w}", match="holds files of an earlier run .*no search_config"),
    U("evaluate", "--trial", "abc", match="--trial ID needs --run"),
    U("evaluate", "--run", "{w}/run", "--checkpoint", "{w}/mlp.pt", match="--run and --checkpoint both name"),
    U("evaluate", "--run", "{w}/run", "--model", "lenet5", match="--run takes the run's own network"),
    U("evaluate", "--out", "{w}/leftover/trial_x/result.json", match="must not write into a search run directory"),
    U("compare", "--methods", "erm", "--noise-sigma", "inf", match="--noise-sigma must be"),
    U("compare", "--methods", "erm", "--sigmas", "0,nan,1.5", match="finite"),
    U("compare", "--methods", "erm", "--out", "{w}/afile", match="--out must be a directory"),
    *[U("search", "--task", t, match="needs a data directory; pass --data-dir DIR") for t in
      ("pennfudan_maskrcnn", "cifar10_vgg11", "gtsrb_stn")],
    U("search", "--width-ratio-bounds", "0,8", match="width_ratio_bounds must be .*0 < low < high"),
    U("search", "--width-ratio-bounds=-1,2", match="width_ratio_bounds must be"),
]

