"""The torch side of the parity tests: a model's MLP rebuilt in torch from its
weights, and an epoch of torch.optim steps over the same batches, in order.
torch is the caller's (imported with pytest.importorskip)."""


def torch_twin(torch, model):
    """The model's MLP (ReLU between its Dense layers) in torch, starting from its
    weights: (net, its Linear layers)."""
    weights = model.get_weights()
    modules = []
    for i, (W, _) in enumerate(weights):
        if i > 0:
            modules.append(torch.nn.ReLU())
        modules.append(torch.nn.Linear(*W.shape))
    net = torch.nn.Sequential(*modules)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for lin, (W, b) in zip(linears, weights):
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
    return net, linears


def torch_epoch(torch, net, opt, X, y, batch):
    """One pass of cross-entropy steps over X, y in batches of `batch` rows, not
    shuffled: each batch's loss, as a float."""
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    losses = []
    for s in range(0, len(X), batch):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(Xt[s:s + batch]), yt[s:s + batch])
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses
