using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// Cascaded group attention (official <c>CascadedGroupAttention</c>). The input channels are split into
/// one chunk per head; head i attends over chunk i plus the output of head i−1, so later heads refine
/// earlier ones at the cost of one head's width. Queries pass a depthwise conv (<c>dws</c>) for local
/// context, and each head adds a learned bias per relative offset (<c>attention_biases</c>, gathered
/// through <c>attention_bias_idxs</c>).
/// </summary>
internal class CascadedGroupAttention : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<Conv2dBN> qkvs;
    private readonly ModuleList<Conv2dBN> dws;
    private readonly Sequential proj;
    private readonly Parameter attention_biases;
    private readonly Tensor attention_bias_idxs;

    private readonly int numHeads;
    private readonly int keyDim;
    private readonly int valueDim;
    private readonly int resolution;
    private readonly double scale;

    // Eval-mode copy of attention_biases gathered into (heads, N, N); rebuilt after train() or a weight load.
    private Tensor? cachedBias;

    // The bias index of the last map smaller than the window, and its side.
    private Tensor? smallerMapIndex;
    private int smallerMapSide;

    /// <summary>Creates the attention for an r×r map (<paramref name="resolution"/>) of <paramref name="dim"/> channels.</summary>
    public CascadedGroupAttention(int dim, int keyDim, int numHeads, int valueDim, int resolution, IReadOnlyList<int> kernels)
        : base(nameof(CascadedGroupAttention))
    {
        if (dim % numHeads != 0)
            throw new ArgumentException($"dim {dim} is not divisible by {numHeads} heads.", nameof(dim));
        this.numHeads = numHeads;
        this.keyDim = keyDim;
        this.valueDim = valueDim;
        this.resolution = resolution;
        scale = Math.Pow(keyDim, -0.5);

        var headDim = dim / numHeads;
        qkvs = new ModuleList<Conv2dBN>(Enumerable.Range(0, numHeads)
            .Select(_ => new Conv2dBN(headDim, 2 * keyDim + valueDim)).ToArray());
        dws = new ModuleList<Conv2dBN>(Enumerable.Range(0, numHeads)
            .Select(i => new Conv2dBN(keyDim, keyDim, kernels[i], 1, kernels[i] / 2, groups: keyDim)).ToArray());
        proj = nn.Sequential(("0", nn.ReLU()), ("1", new Conv2dBN(valueDim * numHeads, dim, bnWeightInit: 0)));

        var points = resolution * resolution;
        attention_biases = new Parameter(zeros(numHeads, AttentionBiasIndex.OffsetCount(resolution)));
        attention_bias_idxs = tensor(AttentionBiasIndex.Build(resolution), new long[] { points, points }, ScalarType.Int64);
        RegisterComponents();
    }

    /// <summary>
    /// An attention sharing <paramref name="layer"/>'s layers and biases (the same modules and tensors), for a
    /// subclass that computes the same function another way. Its biases come from <paramref name="layer"/>
    /// (<see cref="Biases"/>), whose eval-mode cache follows the model's mode and weight loads.
    /// </summary>
    private protected CascadedGroupAttention(CascadedGroupAttention layer) : base(nameof(CascadedGroupAttention))
    {
        (qkvs, dws, proj) = (layer.qkvs, layer.dws, layer.proj);
        (attention_biases, attention_bias_idxs) = (layer.attention_biases, layer.attention_bias_idxs);
        (numHeads, keyDim, valueDim, resolution, scale) = (layer.numHeads, layer.keyDim, layer.valueDim, layer.resolution, layer.scale);
    }

    /// <summary>Side of the map this attention was built for.</summary>
    public int Resolution => resolution;

    internal int NumHeads => numHeads;

    internal int KeyDim => keyDim;

    internal int ValueDim => valueDim;

    internal double Scale => scale;

    internal IReadOnlyList<Conv2dBN> Qkvs => qkvs.ToList();

    internal IReadOnlyList<Conv2dBN> Dws => dws.ToList();

    internal Conv2dBN Projection => (Conv2dBN)proj[1];

    /// <summary>The attention bias of every head for every (query, key) pair: (heads, r·r, r·r).</summary>
    public Tensor GatherBiases() =>
        attention_biases.index_select(1, attention_bias_idxs.view(-1)).view(numHeads, resolution * resolution, resolution * resolution);

    /// <inheritdoc/>
    public override void train(bool on = true)
    {
        base.train(on);
        InvalidateCache();
    }

    /// <summary>Forgets the eval-mode bias cache; call after changing <c>attention_biases</c> in place.</summary>
    public void InvalidateCache()
    {
        cachedBias?.Dispose();
        cachedBias = null;
    }

    /// <summary>
    /// The attention bias of every head for every (query, key) pair of an <paramref name="height"/>×<paramref name="width"/>
    /// map: (heads, h·w, h·w). The full map's is cached in eval mode; a map smaller than the window (a network run below
    /// its size, see <see cref="EfficientVit.SetInputSize"/>) takes, for each pair of its points, the bias of their
    /// offset in the full table.
    /// </summary>
    internal Tensor Biases(long height, long width)
    {
        if (height * width == resolution * resolution)
            return training ? GatherBiases() : CachedBiases();
        if (height != width || height >= resolution)
            throw new ArgumentException($"CascadedGroupAttention built for {resolution}x{resolution} received a {height}x{width} map.");
        var side = (int)height;
        if (smallerMapIndex is null || smallerMapSide != side)
        {
            smallerMapIndex?.Dispose();
            smallerMapIndex = tensor(AttentionBiasIndex.BuildWithin(side, resolution), ScalarType.Int64).DetachFromDisposeScope();
            smallerMapSide = side;
        }
        return attention_biases.index_select(1, smallerMapIndex).view(numHeads, side * side, side * side);
    }

    private Tensor CachedBiases()
    {
        if (cachedBias is null || cachedBias.device_type != attention_biases.device_type)
        {
            cachedBias?.Dispose();
            using (no_grad())
                cachedBias = GatherBiases().detach().DetachFromDisposeScope();
        }
        return cachedBias;
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        var (batch, height, width) = (x.shape[0], x.shape[2], x.shape[3]);
        var biases = Biases(height, width);
        var chunks = x.chunk(numHeads, dim: 1);
        var headOutputs = new Tensor[numHeads];
        var feature = chunks[0];
        for (var i = 0; i < numHeads; i++)
        {
            if (i > 0)
                feature = feature.Plus(chunks[i]);
            var qkv = qkvs[i].call(feature).split(new long[] { keyDim, keyDim, valueDim }, dim: 1);
            var (q, k, v) = (dws[i].call(qkv[0]).flatten(2), qkv[1].flatten(2), qkv[2].flatten(2));
            var attention = q.transpose(-2, -1).matmul(k).Times(scale).Plus(biases[i]).softmax(-1);
            feature = v.matmul(attention.transpose(-2, -1)).view(batch, valueDim, height, width);
            headOutputs[i] = feature;
        }
        return proj.call(cat(headOutputs, 1));
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            InvalidateCache();
            smallerMapIndex?.Dispose();
        }
        base.Dispose(disposing);
    }
}
