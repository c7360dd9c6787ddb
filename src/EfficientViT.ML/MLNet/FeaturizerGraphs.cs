using EfficientViT.ML.Onnx;
using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// The ONNX graphs a featurizer may need, each exported the first time it is asked for: an input kind uses
/// two or three of the five, and exporting one costs as much as the network is large.
/// </summary>
/// <remarks>
/// Each input kind has two graphs: a batched one, and a one-row one without the batch axis for ML.NET's
/// <c>ApplyOnnxModel</c> (its columns then get plain vector types). In memory, images are resampled and
/// centred in managed code and scored by a third graph that only scales.
/// </remarks>
internal sealed class FeaturizerGraphs
{
    private readonly FeatureNetwork network;
    private readonly ImagePreprocessing preprocessing;
    private readonly ScoringColumnNames names;
    private readonly string pixelVectorColumn;
    private readonly OnnxInt8Options? int8;

    public FeaturizerGraphs(FeatureNetwork network, ImagePreprocessing preprocessing, ScoringColumnNames names, string pixelVectorColumn)
        : this(network, preprocessing, names, pixelVectorColumn, int8: null, int8Quality: null)
    {
    }

    private FeaturizerGraphs(FeatureNetwork network, ImagePreprocessing preprocessing, ScoringColumnNames names, string pixelVectorColumn,
        OnnxInt8Options? int8, Int8QualityReport? int8Quality)
    {
        Int8Quality = int8Quality;
        this.network = network;
        this.preprocessing = preprocessing;
        this.names = names;
        this.pixelVectorColumn = pixelVectorColumn;
        this.int8 = int8;
        Lazy<byte[]> Export(Func<OnnxExportOptions> options) => new(() => network.Export(WithInt8(options())), LazyThreadSafetyMode.ExecutionAndPublication);

        ImageBatch = Export(() => Images(resizeInGraph: true, dropBatchAxis: false));
        // The graphs the saved chain runs say what they are, for LoadWithBatchedScoring.
        ImageRow = new(() => WithContract(network.Export(WithInt8(Images(resizeInGraph: true, dropBatchAxis: true))), images: true), LazyThreadSafetyMode.ExecutionAndPublication);
        ResampledImageBatch = Export(() => Images(resizeInGraph: false, dropBatchAxis: false));
        PixelVectorBatch = Export(() => PixelVectors(dropBatchAxis: false));
        PixelVectorRow = new(() => WithContract(network.Export(WithInt8(PixelVectors(dropBatchAxis: true))), images: false), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>
    /// Calibrates and measures an int8 graph on model inputs as the in-memory scorer receives them (resampled,
    /// centred images, or pixel vectors): the graphs of one input kind differ only before the first
    /// convolution, whose input is the same centred image whether the resize runs in the graph or not, so
    /// one calibration serves all of that kind's graphs.
    /// </summary>
    public Int8Quantization Quantize(bool images, IReadOnlyList<float[]> inputs, Int8QualityOptions? quality, Action<string>? log) =>
        network.Quantize(images ? Images(resizeInGraph: false, dropBatchAxis: false) : PixelVectors(dropBatchAxis: false), inputs, quality, log);

    /// <summary>True when the graphs are int8.</summary>
    public bool IsQuantized => int8 is not null;

    /// <summary>How the int8 graphs compare with float32 on held-out calibration images; null for float graphs.</summary>
    public Int8QualityReport? Int8Quality { get; }

    /// <summary>The same graphs in int8 as <paramref name="quantization"/> made them, which fits only the input kind it was measured for.</summary>
    public FeaturizerGraphs Quantized(Int8Quantization quantization) =>
        new(network, preprocessing, names, pixelVectorColumn, quantization.Options, quantization.Quality);

    private OnnxExportOptions Images(bool resizeInGraph, bool dropBatchAxis)
    {
        var options = preprocessing.GraphOptions(names.Pixels);
        options.FeaturesOutputName = names.Features;
        options.ResizeInGraph = resizeInGraph;
        options.InputCentered = !resizeInGraph;
        options.DropBatchAxis = dropBatchAxis;
        return options;
    }

    private OnnxExportOptions PixelVectors(bool dropBatchAxis) =>
        new() { InputName = pixelVectorColumn, FeaturesOutputName = names.Features, DropBatchAxis = dropBatchAxis };

    private byte[] WithContract(byte[] rowGraph, bool images) => (images
        ? ScoringContract.ForImages(ScoringContract.FeaturizerRole, rowGraph, preprocessing, names.Resized)
        : ScoringContract.ForPixelVectors(ScoringContract.FeaturizerRole)).AddTo(rowGraph);

    private OnnxExportOptions WithInt8(OnnxExportOptions options)
    {
        options.Int8 = int8;
        return options;
    }

    /// <summary>Pixels 0–255 of the S×S image in, with the bicubic resize, crop and normalization in the graph; batched.</summary>
    public Lazy<byte[]> ImageBatch { get; }

    /// <summary><see cref="ImageBatch"/> for one image per call: what the saved chain runs.</summary>
    public Lazy<byte[]> ImageRow { get; }

    /// <summary>Images already resampled and centred by <see cref="ImageResampler"/>: only scaled in the graph; batched, for in-memory scoring.</summary>
    public Lazy<byte[]> ResampledImageBatch { get; }

    /// <summary>Preprocessed pixels in; batched, for in-memory scoring.</summary>
    public Lazy<byte[]> PixelVectorBatch { get; }

    /// <summary><see cref="PixelVectorBatch"/> for one vector per call: what the saved chain runs.</summary>
    public Lazy<byte[]> PixelVectorRow { get; }
}
