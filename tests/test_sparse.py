"""lth_utils.sparse: formats compute the same layer, the storage encoder/decoder is exact.

Nothing here asserts a speed: timings depend on the machine (they are printed, not tested).
"""
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
    assert all(r["seconds"] > 0 for r in rows)
    print({(r["density"], r["format"]): r["seconds"] for r in rows})


def test_crossover_density_interpolates_in_log_scale():
    d = [1.0, 0.1, 0.01]
    assert sparse.crossover_density(d, [1, 1, 1], [4, 0.25, 0.1]) == 0.1 ** 0.5
    assert sparse.crossover_density(d, [1, 1, 1], [2, 2, 2]) is None
    assert sparse.crossover_density(d, [1, 1, 1], [0.5, 0.5, 0.5]) == 1.0


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
    assert set(state["storage"]) == set(sparse.SCHEMES)
    assert state["storage"]["dense fp32"] == 4 * 300 * 784
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 2.6), layout="constrained")
    sparse.plot_speed_state(state, axes)
    readable(fig)
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
