using static TorchSharp.torch;

namespace EfficientViT.ML.Onnx;

/// <summary>
/// Places QuantizeLinear/DequantizeLinear pairs in a graph being exported, or, for calibration, only
/// records which activations would get them.
/// </summary>
/// <remarks>
/// Every activation the exporter may quantize is a "point", numbered in the order the exporter first asks
/// for it. The calibration graph and the int8 graph are emitted by the same code, so the k-th point of one
/// is the k-th point of the other, and <see cref="Int8Calibration.Ranges"/>[k] is its range. A point is
/// numbered even when the options leave it float, so that one calibration serves every choice of
/// <see cref="OnnxInt8Options"/>.
/// </remarks>
internal sealed class QdqPlacer
{
    private readonly OnnxGraphBuilder graph;
    private readonly OnnxInt8Options? int8;
    private readonly List<(string Name, int Rank)> points = [];
    private readonly List<string> convolutions = [];
    // Index of each point by the name it was asked for under, and by the names of its DequantizeLinear outputs.
    private readonly Dictionary<string, int> pointOf = new(StringComparer.Ordinal);
    // Per point, once its QuantizeLinear is in the graph.
    private readonly Dictionary<int, QuantizedPoint> quantized = [];

    /// <summary>
    /// A quantized point: its QuantizeLinear output, in the layout of the value it quantizes, and a
    /// DequantizeLinear output per layout read so far (a transposed read transposes the uint8 values
    /// between the pair, where ONNX Runtime cancels it against its own layout changes).
    /// </summary>
    private sealed record QuantizedPoint(string Quantized, string ScaleName, string ZeroName, float Scale, bool ChannelsLast)
    {
        public Dictionary<bool, string> Dequantized { get; } = [];
    }

    private QdqPlacer(OnnxGraphBuilder graph, OnnxInt8Options? int8)
    {
        this.graph = graph;
        this.int8 = int8;
    }

    /// <summary>A placer that inserts nothing and records the points, for the calibration graph.</summary>
    public static QdqPlacer ForCalibration(OnnxGraphBuilder graph) => new(graph, null);

    /// <summary>A placer that inserts the pairs with the calibrated ranges.</summary>
    public static QdqPlacer ForInt8(OnnxGraphBuilder graph, OnnxInt8Options int8) => new(graph, int8);

    /// <summary>True when the graph gets int8 nodes; false while recording for calibration.</summary>
    public bool Quantizing => int8 is not null;

    /// <summary>See <see cref="OnnxInt8Options.QuantizeDepthwiseConvolutions"/>; true while recording.</summary>
    public bool QuantizeDepthwise => int8?.QuantizeDepthwiseConvolutions ?? true;

    /// <summary>See <see cref="OnnxInt8Options.QuantizeAttentionMatMuls"/>; true while recording.</summary>
    public bool QuantizeAttentionMatMuls => int8?.QuantizeAttentionMatMuls ?? true;

    /// <summary>
    /// Counts a quantizable convolution, described for analysis, and says whether the options quantize it
    /// (always true while recording).
    /// </summary>
    public bool Convolution(string description)
    {
        var index = convolutions.Count;
        convolutions.Add(description);
        if (int8 is null)
            return true;
        return int8.QuantizesConvolution(index);
    }

    /// <summary>The quantizable convolutions met so far, described (kind, channels, kernel, map size).</summary>
    public IReadOnlyList<string> Convolutions => convolutions;

    /// <summary>See <see cref="OnnxInt8Options.QuantizeResiduals"/>; true while recording.</summary>
    public bool QuantizeResiduals => int8?.QuantizeResiduals ?? true;

    /// <summary>See <see cref="OnnxInt8Options.QuantizeWeights"/>.</summary>
    public bool QuantizeWeights => int8?.QuantizeWeights ?? true;

    /// <summary>See <see cref="OnnxInt8Options.QuantizeActivations"/>.</summary>
    public bool QuantizeActivations => int8?.QuantizeActivations ?? true;

    /// <summary>The points met so far: the value's name in the graph and its rank.</summary>
    public IReadOnlyList<(string Name, int Rank)> Points => points;

    /// <summary>
    /// Marks <paramref name="value"/> as a point and, when <paramref name="quantize"/> and quantizing,
    /// returns the output of a QuantizeLinear→DequantizeLinear pair over it (every consumer should read
    /// that one, since ONNX Runtime fuses an operator into int8 only when its output feeds the Q alone).
    /// Otherwise returns <paramref name="value"/>. For rank-4 values, <paramref name="channelsLast"/> says
    /// how <paramref name="value"/> is laid out and <paramref name="readChannelsLast"/> (default: the same)
    /// how the returned value must be; a change of layout is a Transpose, between the pair when quantized.
    /// </summary>
    public string Activation(string value, int rank, bool quantize = true, bool channelsLast = false, bool? readChannelsLast = null) =>
        Point(value, rank, quantize, channelsLast, readChannelsLast, rangeOf: null);

    /// <summary>
    /// Marks <paramref name="value"/> as a point and quantizes it as <paramref name="like"/> (a value returned
    /// by <see cref="Activation"/>) is quantized, not with its own range: for the parts of a
    /// split, which ONNX Runtime then splits in uint8 (it does so only when the parts keep the whole's
    /// quantization). Unquantized when <paramref name="like"/> is.
    /// </summary>
    public string ActivationLike(string value, string like, bool channelsLast) =>
        Point(value, 4, quantize: true, channelsLast, readChannelsLast: null, rangeOf: like);

    /// <summary>
    /// A QuantizeLinear→DequantizeLinear pair over <paramref name="value"/> with the parameters of
    /// <paramref name="like"/>, not a point (no range of its own); <paramref name="value"/> itself when
    /// <paramref name="like"/> is not quantized.
    /// </summary>
    public string QuantizedLike(string value, string like)
    {
        if (!pointOf.TryGetValue(like, out var index) || !quantized.TryGetValue(index, out var point))
            return value;
        return graph.AddNode("DequantizeLinear", [graph.AddNode("QuantizeLinear", [value, point.ScaleName, point.ZeroName]), point.ScaleName, point.ZeroName]);
    }

    private string Point(string value, int rank, bool quantize, bool channelsLast, bool? readChannelsLast, string? rangeOf)
    {
        var readLast = readChannelsLast ?? channelsLast;
        if (!pointOf.TryGetValue(value, out var index))
        {
            index = points.Count;
            points.Add((value, rank));
            pointOf.Add(value, index);
        }
        if (quantized.TryGetValue(index, out var existing))
            return Read(existing, index, readLast);
        if (int8 is null || !quantize)
            return Unquantized(value, index, channelsLast, readLast);

        var ranges = int8.Calibration.Ranges;
        if (index >= ranges.Count)
            throw new ArgumentException(
                $"The int8 calibration holds {ranges.Count} activation ranges but the graph has more: it was measured with another model or other export options.");
        string scaleName, zeroName;
        float scale;
        if (rangeOf is not null)
        {
            if (!pointOf.TryGetValue(rangeOf, out var likeIndex) || !quantized.TryGetValue(likeIndex, out var like))
                return Unquantized(value, index, channelsLast, readLast);
            (scaleName, zeroName, scale) = (like.ScaleName, like.ZeroName, like.Scale);
        }
        else
        {
            (scale, var zeroPoint) = ranges[index].ToUInt8();
            scaleName = graph.AddInitializer("act_scale", [scale]);
            zeroName = graph.AddInitializer("act_zero_point", [zeroPoint]);
        }
        var point = new QuantizedPoint(graph.AddNode("QuantizeLinear", [value, scaleName, zeroName]), scaleName, zeroName, scale, channelsLast);
        quantized.Add(index, point);
        return Read(point, index, readLast);
    }

    private static readonly long[] ChannelsLastOrder = [0, 2, 3, 1];
    private static readonly long[] ChannelsFirstOrder = [0, 3, 1, 2];

    // Per unquantized point and layout: the transpose made to read it that way.
    private readonly Dictionary<(int Index, bool ChannelsLast), string> relayouts = [];

    /// <summary>
    /// An unquantized point in the asked layout. A transposed value is the same point under another name, so
    /// that a consumer asking for it again does not number a new one (the calibration graph has no transposes).
    /// </summary>
    private string Unquantized(string value, int index, bool channelsLast, bool readChannelsLast)
    {
        if (channelsLast == readChannelsLast)
            return value;
        if (!relayouts.TryGetValue((index, readChannelsLast), out var transposed))
        {
            transposed = Relayout(value, channelsLast, readChannelsLast);
            relayouts.Add((index, readChannelsLast), transposed);
            pointOf.Add(transposed, index);
        }
        return transposed;
    }

    private string Read(QuantizedPoint point, int index, bool channelsLast)
    {
        if (point.Dequantized.TryGetValue(channelsLast, out var dq))
            return dq;
        dq = graph.AddNode("DequantizeLinear", [Relayout(point.Quantized, point.ChannelsLast, channelsLast), point.ScaleName, point.ZeroName]);
        point.Dequantized.Add(channelsLast, dq);
        pointOf.Add(dq, index);
        return dq;
    }

    /// <summary><paramref name="value"/> (batch, C, H, W) or (batch, H, W, C) in the asked layout.</summary>
    public string Relayout(string value, bool channelsLast, bool readChannelsLast) =>
        channelsLast == readChannelsLast
            ? value
            : graph.AddNode("Transpose", [value], OnnxAttribute.Ints("perm", readChannelsLast ? ChannelsLastOrder : ChannelsFirstOrder));

    /// <summary>The scale of a value returned by <see cref="Activation"/> with quantization.</summary>
    public float ScaleOf(string dequantized) =>
        pointOf.TryGetValue(dequantized, out var index) && quantized.TryGetValue(index, out var point) && point.Dequantized.ContainsValue(dequantized)
            ? point.Scale
            : throw new InvalidOperationException($"'{dequantized}' is not a dequantized activation.");

    /// <summary>
    /// The largest weight magnitude written: 63, seven bits. ONNX Runtime's uint8×int8 kernels on x64 CPUs
    /// without VNNI (AVX2, and AVX-512 before Cascade Lake) multiply with <c>vpmaddubsw</c>, which adds
    /// two neighbouring products in a saturating 16-bit lane: 255·127 + 255·127 = 64,770 does not fit in
    /// 32,767, and on such CPUs the convolutions' sums were clipped (feature cosine 0.97 where CPUs with
    /// VNNI gave 0.999). With |w| ≤ 63 no pair can exceed 255·63·2 = 32,130, so one graph computes the
    /// same on every x64 CPU; ONNX Runtime's quantization tool calls this "reduce_range".
    /// </summary>
    internal const int ReducedWeightLimit = 63;

    /// <summary>The full signed 8-bit weight range, ±127: exact only on CPUs with VNNI (measured in the int8 benchmark, never written by default).</summary>
    internal const int FullWeightLimit = 127;

    /// <summary>
    /// Int8 weights (output channels first) with one symmetric scale per output channel, dequantized by a
    /// DequantizeLinear node; returns its output, the scales and, per weight, the rounding error
    /// (dequantized − float) in the weight's own layout.
    /// </summary>
    public (string Dequantized, float[] Scales, float[] Error) Weight(Tensor weight)
    {
        var limit = int8?.FullRangeWeights == true ? FullWeightLimit : ReducedWeightLimit;
        var shape = weight.shape;
        var values = Floats(weight);
        var channels = (int)shape[0];
        var perChannel = values.Length / channels;
        var scales = new float[channels];
        var quantizedValues = new sbyte[values.Length];
        var error = new float[values.Length];
        for (var c = 0; c < channels; c++)
        {
            var span = values.AsSpan(c * perChannel, perChannel);
            var maxAbs = 0f;
            foreach (var v in span)
                maxAbs = Math.Max(maxAbs, Math.Abs(v));
            // Symmetric, zero point 0: the most negative value is left out so that negation is exact.
            var scale = maxAbs > 0f ? maxAbs / limit : 1f;
            scales[c] = scale;
            for (var i = 0; i < perChannel; i++)
            {
                var q = (sbyte)Math.Clamp(MathF.Round(span[i] / scale), -limit, limit);
                quantizedValues[c * perChannel + i] = q;
                error[c * perChannel + i] = q * scale - span[i];
            }
        }
        var data = graph.AddInitializer("conv.weight_int8", quantizedValues, shape);
        var scaleName = graph.AddInitializer("conv.weight_scale", scales, channels);
        var zeroName = graph.AddInitializer("conv.weight_zero_point", new sbyte[channels], channels);
        var dq = graph.AddNode("DequantizeLinear", [data, scaleName, zeroName], OnnxAttribute.Int("axis", 0));
        return (dq, scales, error);
    }

    /// <summary>See <see cref="OnnxInt8Options.CorrectBias"/>.</summary>
    public bool CorrectsBias => int8?.CorrectBias ?? false;

    /// <summary>
    /// Bias correction (Nagel et al., 2019): the rounded weights shift each output channel's mean by
    /// Σ error[o, i, ·] · E[x_i], with E[x_i] the calibration mean of the convolution's input channel i; the
    /// bias gives that shift back, so that the int8 convolution's output has the float one's mean. Padding
    /// is ignored (a border pixel sees fewer taps): the correction is of the mean, not of every pixel.
    /// </summary>
    /// <param name="bias">The float bias, one per output channel.</param>
    /// <param name="error">The weights' rounding error, as <see cref="Weight"/> returns it.</param>
    /// <param name="inputChannels">The convolution's input channels.</param>
    /// <param name="groups">The convolution's groups.</param>
    /// <param name="input">The convolution's input, as <see cref="Activation"/> returned it.</param>
    public float[] CorrectedBias(float[] bias, float[] error, int inputChannels, int groups, string input)
    {
        var means = pointOf.TryGetValue(input, out var index) && int8!.Calibration.ChannelMeans is { } all && index < all.Count ? all[index] : null;
        if (means is null || means.Length != inputChannels)
            throw new ArgumentException("Bias correction needs the channel means of each convolution's input: calibrate with Int8Calibrator on the same model and export options.");
        var outputs = bias.Length;
        var perGroupIn = inputChannels / groups;
        var perGroupOut = outputs / groups;
        var taps = error.Length / (outputs * perGroupIn);
        var corrected = (float[])bias.Clone();
        for (var o = 0; o < outputs; o++)
        {
            double shift = 0;
            var firstInput = o / perGroupOut * perGroupIn;
            for (var j = 0; j < perGroupIn; j++)
            {
                double tapSum = 0;
                var start = (o * perGroupIn + j) * taps;
                for (var t = 0; t < taps; t++)
                    tapSum += error[start + t];
                shift += tapSum * means[firstInput + j];
            }
            corrected[o] = (float)(bias[o] - shift);
        }
        return corrected;
    }

    /// <summary>
    /// An int32 bias with scale input scale × weight scale per channel, as QLinearConv adds it to its
    /// int32 accumulator; dequantized by a DequantizeLinear node, whose output is returned.
    /// </summary>
    public string Bias(float[] values, float inputScale, float[] weightScales)
    {
        var scales = new float[values.Length];
        var quantizedValues = new int[values.Length];
        for (var c = 0; c < values.Length; c++)
        {
            scales[c] = inputScale * weightScales[c];
            quantizedValues[c] = (int)Math.Clamp(Math.Round((double)values[c] / scales[c]), int.MinValue, int.MaxValue);
        }
        var data = graph.AddInitializer("conv.bias_int32", quantizedValues, values.Length);
        var scaleName = graph.AddInitializer("conv.bias_scale", scales, values.Length);
        return graph.AddNode("DequantizeLinear", [data, scaleName], OnnxAttribute.Int("axis", 0));
    }

    /// <summary>The values of <paramref name="tensor"/>, row-major.</summary>
    public static float[] Floats(Tensor tensor)
    {
        using var detached = tensor.detach();
        using var cpu = detached.cpu();
        using var contiguous = cpu.contiguous();
        return contiguous.data<float>().ToArray();
    }
}
