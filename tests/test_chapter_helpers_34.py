"""The figures of chapters 3 (prune and fine-tune) and 4 (masks in PyTorch): finetune_plots."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lth_utils import finetune_plots  # noqa: E402


def test_accuracy_vs_remaining_draws_curves_dense_line_and_band():
    curves = {"fine-tuned": ([0.6, 0.36, 0.2], [0.98, 0.979, 0.975]),
              "no retraining": ([0.6, 0.36, 0.2], [0.97, 0.95, 0.90])}
    fig = finetune_plots.plot_accuracy_vs_remaining(curves, dense_acc=0.978, tolerance=0.002,
                                           reference=(0.08, "Han et al.: 8%"))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["fine-tuned", "no retraining"]
    assert any("dense" in s for s in labels) and any("0.2 pp" in s for s in labels)
    assert any("Han" in s for s in labels)
    assert ax.get_title() and ax.get_ylabel() == "test accuracy (%)"
    assert ax.get_xscale() == "log" and ax.xaxis_inverted()   # dense on the left
    assert list(ax.lines[0].get_ydata()) == [0.98, 0.979, 0.975]
    plt.close(fig)


def test_pruned_weight_drift_shows_exact_zero_on_symlog_axis():
    runs = {"bug": {"step": [1, 2, 3], "nonzero": [50, 80, 100], "mean_abs": [1e-4, 2e-4, 3e-4]},
            "fix": {"step": [1, 2, 3], "nonzero": [0, 0, 0], "mean_abs": [0.0, 0.0, 0.0]}}
    fig = finetune_plots.plot_pruned_weight_drift(runs, n_pruned=100,
                                                styles={"fix": {"ls": ":", "lw": 3}})
    left, right = fig.axes
    assert list(left.lines[0].get_ydata()) == [50.0, 80.0, 100.0]   # percent of pruned weights
    assert list(left.lines[1].get_ydata()) == [0.0, 0.0, 0.0]
    assert right.get_yscale() == "symlog" and left.get_xscale() == "symlog"
    assert left.lines[1].get_linestyle() == ":" and right.lines[1].get_linewidth() == 3
    assert right.lines[0].get_color() == left.lines[0].get_color()
    for ax in (left, right):
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["bug", "fix"]
    plt.close(fig)


def test_storage_plot_in_megabytes():
    fig = finetune_plots.plot_storage([1.0, 0.1], {"dense": [4e6, 4e6], "CSR": [12e6, 1.2e6]})
    ax = fig.axes[0]
    assert list(ax.lines[1].get_ydata()) == [12.0, 1.2]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "memory (MB)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["dense", "CSR"]
    plt.close(fig)
