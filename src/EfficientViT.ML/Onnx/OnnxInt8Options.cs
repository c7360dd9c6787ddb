namespace EfficientViT.ML.Onnx;

/// <summary>
/// Makes <see cref="EfficientVitOnnxExporter"/> write an int8 graph: QuantizeLinear/DequantizeLinear pairs
/// around the convolutions (and optionally the attention products), which ONNX Runtime fuses into its
/// int8 kernels (QLinearConv, MatMulIntegerToFloat). Weights are int8 of seven bits (±63, so that CPUs
/// without VNNI compute the same sums as those with it), symmetric, one scale per output channel;
/// activations are uint8 with the calibrated ranges; biases are int32.
/// </summary>
/// <remarks>
/// What stays float, and why, is in docs/guide/int8.md: the first convolution (three input channels:
/// faster in float, see <see cref="QuantizeFirstConvolution"/>), the squeeze-and-excitation convolutions
/// (one pixel per image: nothing to gain), softmax and the attention biases, the in-graph resize and
/// normalization, pooling and the classification head.
/// </remarks>
/// <example>
/// <code>
/// var calibration = Int8Calibrator.Calibrate(model, calibrationImages);
/// var options = new OnnxExportOptions { Int8 = new OnnxInt8Options { Calibration = calibration } };
/// byte[] int8Model = EfficientVitOnnxExporter.ToBytes(model, options);
/// </code>
/// </example>
public sealed record OnnxInt8Options
{
    /// <summary>The activation ranges, from <see cref="Int8Calibrator.Calibrate"/> with the same model and export options.</summary>
    public required Int8Calibration Calibration { get; init; }

    /// <summary>Quantize the depthwise convolutions too. Default true (measured: see docs/guide/int8.md).</summary>
    public bool QuantizeDepthwiseConvolutions { get; init; } = true;

    /// <summary>
    /// Give the two matrix products of each attention head (queries·keys and values·weights) quantized
    /// inputs of their own. Default false (measured: see docs/guide/int8.md). Either way ONNX Runtime runs
    /// queries·keys in int8, since both arrive quantized from the query/key/value convolution.
    /// </summary>
    public bool QuantizeAttentionMatMuls { get; init; }

    /// <summary>
    /// Keep the residual stream int8: the skip path of every residual block reads the same quantized
    /// input as the block, and ONNX Runtime adds in uint8 (QLinearAdd) instead of converting to float and
    /// back around every addition. Default true (measured: see docs/guide/int8.md).
    /// </summary>
    public bool QuantizeResiduals { get; init; } = true;

    /// <summary>
    /// Quantize the patch embedding's first convolution, over the three colour channels. Default false: with
    /// three input channels its int8 kernel ran slower than the float one (4.8 against 2.1 ms for M4 at batch 16
    /// without VNNI), and the whole graph ran faster with it float (measured: see docs/guide/int8.md).
    /// </summary>
    public bool QuantizeFirstConvolution { get; init; }

    /// <summary>
    /// For sensitivity analysis: whether the k-th quantizable convolution (in the exporter's order) is
    /// quantized; null quantizes all that the other options allow.
    /// </summary>
    internal Func<int, bool>? QuantizeConvolution { get; init; }

    /// <summary>
    /// Bias correction: each quantized convolution's bias takes back the mean shift its rounded weights
    /// cause on the calibration images. Needs a calibration measured by <see cref="Int8Calibrator"/>.
    /// A repair <see cref="Int8Quantizer"/> tries when the plain graph misses its target.
    /// </summary>
    internal bool CorrectBias { get; init; }

    /// <summary>
    /// The convolutions (numbered as <see cref="QuantizeConvolution"/> numbers them) left float: a repair
    /// <see cref="Int8Quantizer"/> tries when the plain graph misses its target. Null or empty: none.
    /// </summary>
    internal IReadOnlySet<int>? FloatConvolutions { get; init; }

    /// <summary>
    /// How the graph compared with float32 when <see cref="Int8Quantizer"/> measured it, written into the
    /// graph's metadata (<c>efficientvit.int8_quality</c>) so that a saved model says what it is.
    /// </summary>
    internal string? Quality { get; init; }

    /// <summary>
    /// For measurement only: weights over the full ±127 instead of ±63. Exact on CPUs with VNNI; on others
    /// ONNX Runtime's kernels saturate (see <see cref="QdqPlacer.ReducedWeightLimit"/>).
    /// </summary>
    internal bool FullRangeWeights { get; init; }

    /// <summary>
    /// Whether the <paramref name="index"/>-th quantizable convolution (in the exporter's order, which starts with the
    /// patch embedding: index 0 is the first convolution) is quantized, as far as these options say.
    /// </summary>
    internal bool QuantizesConvolution(int index) =>
        (index != 0 || QuantizeFirstConvolution) && FloatConvolutions?.Contains(index) != true && (QuantizeConvolution?.Invoke(index) ?? true);

    /// <summary>For sensitivity analysis: false leaves the quantized convolutions' weights float.</summary>
    internal bool QuantizeWeights { get; init; } = true;

    /// <summary>For sensitivity analysis: false leaves the quantized convolutions' inputs and outputs float.</summary>
    internal bool QuantizeActivations { get; init; } = true;
}
