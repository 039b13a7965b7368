"""lth_utils.sparse: formats compute the same layer, the storage encoder/decoder is exact.

Nothing here asserts a real speed: timings depend on the machine (they are printed, not tested).
The interleaved timer is tested on a fake machine, a clock and functions whose cost rises during a
burst of load, where the right answer is known.
"""
import statistics

import pytest
import torch
from torch import nn

from lth_utils import models, sparse


def test_formats_agree_on_a_layer():
    g = torch.Generator().manual_seed(0)
    w, b = torch.randn(30, 40, generator=g), torch.randn(30, generator=g)
    mask = sparse.random_mask((30, 40), 0.2, g)
    x = torch.randn(5, 40, generator=g)
    ref = x @ (w * mask).T + b
    for fmt in sparse.FORMATS:
        out = sparse.linear_forward(w, b, mask, fmt)(x)
        assert out.shape == (5, 30)
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_network_forward_matches_the_masked_model():
    model = models.build("lenet", seed=0)
    g = torch.Generator().manual_seed(1)
    mk = {n: sparse.random_mask(tuple(p.shape), 0.1, g)
          for n, p in model.named_parameters() if n.endswith("weight")}
    x = torch.randn(3, 1, 28, 28, generator=g)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in mk:
                p.mul_(mk[n])
        ref = model(x)
    for fmt in sparse.FORMATS:
        torch.testing.assert_close(sparse.network_forward(model, mk, fmt)(x), ref,
                                   rtol=1e-4, atol=1e-4)


def test_random_mask_has_exact_count_and_is_seeded():
    m = sparse.random_mask((100, 50), 0.07, torch.Generator().manual_seed(3))
    assert int(m.sum()) == 350
    assert torch.equal(m, sparse.random_mask((100, 50), 0.07, torch.Generator().manual_seed(3)))


def test_timings_are_positive_and_printed():
    lin = nn.Linear(20, 10)
    rows = sparse.layer_latency(lin.weight.detach(), lin.bias.detach(), [1.0, 0.1],
                                batch_sizes=(1,), repeats=3)
    assert len(rows) == 2 * len(sparse.FORMATS)
    assert all(r["seconds"] > 0 and r["ratio"] > 0 for r in rows)
    assert all(r["ratio"] == 1.0 for r in rows if r["format"] == "dense")
    print({(r["density"], r["format"]): (r["seconds"], r["ratio"]) for r in rows})


def test_timings_need_dense_as_the_reference():
    lin = nn.Linear(20, 10)
    with pytest.raises(ValueError, match="dense"):
        sparse.layer_latency(lin.weight.detach(), lin.bias.detach(), [1.0],
                             formats=("CSR", "COO"), repeats=1)


class BusyMachine:
    """A fake clock, and functions that advance it by their cost times the load at that
    moment: ``load(t)`` is how many times slower everything runs at time t (a burst: > 1)."""

    def __init__(self, costs, load):
        self.now, self.costs, self.load, self.started = 0.0, costs, load, []

    def clock(self):
        return self.now

    def fn(self, name):
        def call():
            self.started.append(name)
            self.now += self.costs[name] * self.load(self.now)
        return call


COSTS = {"dense": 1e-3, "masked dense": 2e-3, "CSR": 0.5e-3, "COO": 0.8e-3}


def test_interleaved_ratios_survive_a_burst_that_fools_sequential_timing():
    # everything runs 6 times slower for the first 0.2 s: long enough to cover every timing
    # of the first format when the formats are timed one after another
    def burst(t):
        return 6.0 if t < 0.2 else 1.0

    m = BusyMachine(COSTS, burst)
    t = sparse.summarize(sparse.time_interleaved({n: m.fn(n) for n in COSTS}, repeats=21,
                                                 clock=m.clock))
    for n, cost in COSTS.items():
        assert t[n]["ratio"] == pytest.approx(cost / COSTS["dense"], rel=1e-9)
        assert t[n]["seconds"] == pytest.approx(cost, rel=1e-9)
    # the same machine timed format after format: dense, timed during the burst, looks
    # 6 times slower, and masking seems to make the layer faster
    m = BusyMachine(COSTS, burst)
    seq = {n: statistics.median(sparse.time_interleaved({n: m.fn(n)}, repeats=21,
                                                        clock=m.clock)[n]) for n in COSTS}
    assert seq["dense"] == pytest.approx(6 * COSTS["dense"])
    assert seq["masked dense"] / seq["dense"] < 1


def test_interleaved_ratios_survive_a_rising_load():
    # another job piling up: everything runs 1 + 5 t times slower at time t (s). The median
    # seconds grow several-fold; the ratios (formats timed in the same repeat) stay within a
    # few percent, while timed format after format CSR would look slower than dense
    def rising(t):
        return 1 + 5 * t

    m = BusyMachine(COSTS, rising)
    t = sparse.summarize(sparse.time_interleaved({n: m.fn(n) for n in COSTS}, repeats=31,
                                                 clock=m.clock))
    assert t["dense"]["seconds"] > 2 * COSTS["dense"]
    for n, cost in COSTS.items():
        assert t[n]["ratio"] == pytest.approx(cost / COSTS["dense"], rel=0.05)
    m = BusyMachine(COSTS, rising)
    seq = {n: statistics.median(sparse.time_interleaved({n: m.fn(n)}, repeats=31,
                                                        clock=m.clock)[n]) for n in COSTS}
    assert seq["CSR"] / seq["dense"] > 1


def test_interleaved_order_rotates_every_repeat():
    m = BusyMachine(COSTS, lambda t: 1.0)
    # blocks of one timed call (min_block_s below every cost), no warm-up
    sparse.time_interleaved({n: m.fn(n) for n in COSTS}, repeats=3, warmup=0,
                            min_block_s=1e-6, clock=m.clock)
    blocks = m.started[len(COSTS):]                 # after one calibration call each
    names = list(COSTS)
    # each block: one untimed call (its data back in the caches), then the timed one
    assert blocks[::2] == blocks[1::2]
    assert blocks[::2] == names + names[1:] + names[:1] + names[2:] + names[:2]


def test_before_runs_untimed_before_every_call():
    m = BusyMachine(COSTS, lambda t: 1.0)
    flushes = []

    def flush():                          # slow, and not counted
        flushes.append(m.now)
        m.now += 1.0

    s = sparse.time_interleaved({n: m.fn(n) for n in COSTS}, repeats=5, warmup=1,
                                clock=m.clock, before=flush)
    assert len(flushes) == 5 * len(COSTS)
    for n, cost in COSTS.items():
        assert s[n] == pytest.approx([cost] * 5)
    assert len(m.started) == 2 * len(COSTS) + 5 * len(COSTS)   # no untimed warm call


def test_flush_caches_writes_its_buffer():
    flush = sparse.flush_caches(1 << 12)
    assert flush() is not None and float(flush().sum()) == 2 * (1 << 10)


def test_network_breakdown_times_every_layer_in_every_format():
    model = models.build("lenet", seed=0)
    g = torch.Generator().manual_seed(1)
    mk = {n: sparse.random_mask(tuple(p.shape), 0.1, g)
          for n, p in model.named_parameters() if n.endswith("weight")}
    rows = sparse.network_breakdown(model, {0.1: mk}, batch_sizes=(2,),
                                    formats=("dense", "CSR"), repeats=2)
    assert {(r["part"], r["format"]) for r in rows} == {
        (p, f) for p in ("network", "fc1", "fc2", "fc3", "between")
        for f in ("dense", "CSR")}
    assert all(r["ratio"] == 1.0 for r in rows if r["format"] == "dense")
    assert all(r["seconds"] > 0 for r in rows)
    d, r = sparse.series(rows, "CSR", 2, "ratio", part="fc3")
    assert d == [0.1] and r[0] > 0


def _breakdown_rows():
    """network_breakdown-like rows at batch 1: the first layer wins below about 30%, the two
    small layers never, the network only below 10%."""
    dense_s = {"network": 10.0, "fc1": 6.0, "fc2": 2.0, "fc3": 1.0}
    csr = {"network": [3.5, 1.2, 0.9], "fc1": [4.0, 0.5, 0.25], "fc2": [3.0, 2.0, 2.0],
           "fc3": [3.0, 3.0, 3.0]}
    rows = []
    for i, d in enumerate((1.0, 0.1, 0.01)):
        for part, s in dense_s.items():
            rows += [{"density": d, "batch": 1, "part": part, "format": "dense",
                      "seconds": s, "ratio": 1.0},
                     {"density": d, "batch": 1, "part": part, "format": "CSR",
                      "seconds": s * csr[part][i], "ratio": csr[part][i]}]
    return rows


def test_time_shares_split_the_network():
    shares = {p["part"]: p for p in sparse.time_shares(_breakdown_rows(), 1, 0.01)}
    assert list(shares) == ["fc1", "fc2", "fc3", "in turn"]
    assert [shares[p]["share"] for p in shares] == pytest.approx([0.6, 0.2, 0.1, 0.1])
    assert shares["fc3"]["ratio"] == 3.0
    # in turn: 9 - (1.5 + 4 + 3) seconds in CSR against 10 - 9 dense
    assert shares["in turn"]["ratio"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no network_breakdown rows"):
        sparse.time_shares(_breakdown_rows(), 60, 0.01)


def test_crossover_facts_compare_the_network_with_its_layer_alone():
    alone = [{"density": d, "batch": 1, "format": f, "seconds": 1.0,
              "ratio": r if f == "CSR" else 1.0}
             for d, r in zip((1.0, 0.1, 0.01), (4.0, 0.6, 0.3)) for f in ("dense", "CSR")]
    f = sparse.crossover_facts(_breakdown_rows(), alone, 1)
    assert f["network"] == sparse.crossover([1.0, 0.1, 0.01], [3.5, 1.2, 0.9])
    assert f["alone"] == sparse.crossover([1.0, 0.1, 0.01], [4.0, 0.6, 0.3])
    assert f["inside"] == sparse.crossover([1.0, 0.1, 0.01], [4.0, 0.5, 0.25])
    assert f["network"] < 0.1 < f["alone"] and f["relation"] == "lower"
    assert f["density"] == 0.01 and f["alone_ratio"] == 0.3
    assert f["densest"]["fc3"] == 3.0 and f["densest"]["fc1"] == 4.0
    # a network that never wins crosses "lower" than a layer that does, and vice versa
    never = [dict(r, ratio=2.0) if r["format"] == "CSR" else r for r in _breakdown_rows()]
    assert sparse.crossover_facts(never, alone, 1)["relation"] == "lower"
    alone_never = [dict(r, ratio=2.0) if r["format"] == "CSR" else r for r in alone]
    assert sparse.crossover_facts(_breakdown_rows(), alone_never, 1)["relation"] == "higher"
    assert sparse.crossover_facts(never, alone_never, 1)["relation"] == "same"


def test_crossover_interpolates_in_log_scale():
    d = [1.0, 0.1, 0.01]
    assert sparse.crossover(d, [4, 0.25, 0.1]) == 0.1 ** 0.5
    assert sparse.crossover(d, [2, 2, 2]) is None
    assert sparse.crossover(d, [0.5, 0.5, 0.5]) == 1.0
    # the first win from the dense side counts, even if a sparser point loses again
    assert sparse.crossover(d, [4, 0.25, 1.5]) == 0.1 ** 0.5
    assert sparse.crossover_density(d, [2, 2, 2], [8, 0.5, 0.2]) == 0.1 ** 0.5


def test_relative_encoding_known_mask_and_fillers():
    # positions 1, 4, 20 with 3-bit steps (1..8): steps 2, 3, then 16 = 8 (filler) + 8
    mask = torch.zeros(24)
    mask[[1, 4, 20]] = 1
    values = torch.arange(24.0)
    steps, vals, fillers = sparse.relative_encode(values, mask, bits=3)
    assert fillers == 1
    assert (steps + 1).tolist() == [2, 3, 8, 8]
    assert vals.tolist() == [1.0, 4.0, 0.0, 20.0]
    assert torch.equal(sparse.relative_decode(steps, vals, 24), values * mask)


def test_relative_round_trip_random_layer():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(50, 60, generator=g)
    m = sparse.random_mask((50, 60), 0.03, g)
    for bits in (2, 5, 8):
        steps, vals, fillers = sparse.relative_encode(w, m, bits)
        assert len(steps) == int(m.sum()) + fillers
        assert int(steps.max()) < 2 ** bits
        assert torch.equal(sparse.relative_decode(steps, vals, w.numel()).view(50, 60), w * m)


def test_storage_bits_on_a_known_mask():
    mask = torch.zeros(2, 40)
    mask[0, 0] = mask[1, 39] = 1          # flat positions 0 and 79: steps 1 and 79
    bits = sparse.layer_storage_bits(mask, index_bits=5, weight_bits=4)
    entries = 2 + 2                       # 79 = 32 + 32 + 15: two fillers
    assert bits["dense fp32"] == 32 * 80
    assert bits["CSR, 32-bit indices"] == 32 * (2 * 2 + 2 + 1)
    assert bits["relative indices"] == entries * (32 + 5)
    assert bits["relative + sharing"] == entries * (4 + 5) + 32 * 16


def test_pack_bits_round_trip():
    codes = torch.tensor([0, 31, 5, 17, 1])
    data = sparse.pack_bits(codes, 5)
    assert len(data) == 4                 # 25 bits
    assert torch.equal(sparse.unpack_bits(data, 5, 5), codes)


def test_kmeans_codebook_reserves_zero_and_is_close():
    v = torch.randn(2000, generator=torch.Generator().manual_seed(0))
    book, codes = sparse.kmeans_codebook(v, bits=6)
    assert book.shape == (64,) and book[0] == 0
    assert int(codes.min()) >= 1 and int(codes.max()) <= 63
    assert (book[codes] - v).abs().max() < 0.2


def test_save_and_load_compressed(tmp_path):
    model = models.build("lenet", seed=0)
    g = torch.Generator().manual_seed(2)
    mk = {n: sparse.random_mask(tuple(p.shape), 0.08, g)
          for n, p in model.named_parameters() if n.endswith("weight")}
    size = sparse.save_compressed(model, mk, tmp_path / "m.lthc")
    assert size < 0.06 * sparse.storage_table(model, mk)["dense fp32"]
    back = models.build("lenet", seed=5)
    masks_back = sparse.load_compressed(tmp_path / "m.lthc", back)
    for n, p in model.named_parameters():
        if n in mk:
            assert torch.equal(masks_back[n], mk[n])
            assert ((back.get_parameter(n) - p * mk[n]).abs() <= 0.02).all()
        else:
            assert torch.equal(back.get_parameter(n), p)


def test_storage_table_orders_schemes():
    model = models.build("lenet", seed=0)
    g = torch.Generator().manual_seed(0)
    mk = {n: sparse.random_mask(tuple(p.shape), 0.08, g)
          for n, p in model.named_parameters() if n.endswith("weight")}
    t = sparse.storage_table(model, mk)
    assert t["dense fp32"] == 4 * sum(p.numel() for p in model.parameters())
    assert (t["dense fp32"] > t["CSR, 32-bit indices"] > t["relative indices"]
            > t["relative + sharing"])


def test_speed_state_and_its_figure_fit_the_column():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from test_figure_sizes import readable

    rows = [{"density": d, "batch": b, "format": f, "seconds": 1e-5 * (1 + i)}
            for d in (1.0, 0.1, 0.01) for b in (1, 60)
            for i, f in enumerate(sparse.FORMATS)]
    state = sparse.speed_state(rows, 0.09)
    assert state["density"] == 0.1                     # nearest measured, in log scale
    # rows without a ratio: seconds / dense seconds; with one (layer_latency's): the ratio
    assert state["latency"][(1, "CSR")] == 3.0
    timed = [dict(r, ratio=0.5) for r in rows]
    assert sparse.speed_state(timed, 0.09)["latency"][(60, "CSR")] == 0.5
    assert set(state["storage"]) == set(sparse.SCHEMES)
    assert state["storage"]["dense fp32"] == 4 * 300 * 784
    # the mask returned is the one whose storage the state gives
    assert state["mask"].shape == (300, 784)
    bits = sparse.layer_storage_bits(state["mask"], 5, 8)
    assert state["storage"] == {k: (b + 7) // 8 for k, b in bits.items()}
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 2.6), layout="constrained")
    sparse.plot_speed_state(state, axes)
    readable(fig)
    # the row says its density: a row of the chapter's small multiples names its position
    assert axes[0].get_ylabel() == "10% of weights kept"
    plt.close(fig)


def test_speed_slider_starts_at_the_sparsest_and_follows_the_slider():
    import matplotlib
    matplotlib.use("Agg")
    from lth_utils import widgets

    rows = [{"density": d, "batch": b, "format": f, "seconds": 1e-5}
            for d in (1.0, 0.1, 0.01) for b in (1, 60) for f in sparse.FORMATS]
    box = widgets.speed_slider(rows)
    assert box.state["density"] == 0.01
    box.slider.value = 1.0
    assert box.state["density"] == 1.0
    assert box.state["storage"]["CSR, 32-bit indices"] > box.state["storage"]["dense fp32"]


def test_a_layer_pruned_away_entirely_round_trips(tmp_path):
    lin = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    mk = {"0.weight": torch.zeros(3, 4), "2.weight": torch.ones(2, 3)}
    sparse.save_compressed(lin, mk, tmp_path / "z.lthc")
    back = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    masks_back = sparse.load_compressed(tmp_path / "z.lthc", back)
    assert masks_back["0.weight"].sum() == 0
    assert torch.equal(back[0].bias, lin[0].bias)


def test_compare_crossovers():
    assert sparse.compare_crossovers(0.02, 0.04) == "lower"
    assert sparse.compare_crossovers(0.04, 0.035) == "same"
    assert sparse.compare_crossovers(0.3, 0.04) == "higher"
    assert sparse.compare_crossovers(None, 0.04) == "lower"
    assert sparse.compare_crossovers(0.01, None) == "higher"
    assert sparse.compare_crossovers(None, None) == "same"


def test_break_even_is_the_densest_percent_that_stores_smaller_than_dense():
    model = models.build("lenet", seed=0)
    csr = "CSR, 32-bit indices"
    # by brute force over every whole percent, against the bisection
    smaller = [p for p in range(1, 101) if sparse.smaller_than_dense(model, p, csr)]
    assert smaller == list(range(1, max(smaller) + 1))        # the bytes grow with density
    assert sparse.break_even(model, csr) == max(smaller) / 100
    # a value and a 32-bit index per kept weight against one fp32 value: about half
    assert 0.4 < sparse.break_even(model, csr) < 0.5 + 1e-9
    assert not sparse.smaller_than_dense(model, 100, csr)     # positions cost bits
    # shared 8-bit weights with 5-bit gaps: smaller than fp32 even with every weight kept
    assert sparse.break_even(model, "relative + sharing") == 1.0


def test_break_even_refuses_bad_input():
    model = models.build("lenet", seed=0)
    with pytest.raises(ValueError, match="scheme must be one of"):
        sparse.break_even(model, "CSR")
    with pytest.raises(ValueError, match="whole percentage"):
        sparse.smaller_than_dense(model, 0, "relative indices")
