using EfficientViT.ML.Onnx;
using EfficientViT.ML.Pipelines;
using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Featurization;

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
    public FeaturizerGraphs(FeatureNetwork network, ImagePreprocessing preprocessing, ScoringColumnNames names, string pixelVectorColumn)
    {
        OnnxExportOptions Images(bool resizeInGraph, bool dropBatchAxis)
        {
            var options = preprocessing.GraphOptions(names.Pixels);
            options.FeaturesOutputName = names.Features;
            options.ResizeInGraph = resizeInGraph;
            options.InputCentered = !resizeInGraph;
            options.DropBatchAxis = dropBatchAxis;
            return options;
        }
        OnnxExportOptions PixelVectors(bool dropBatchAxis) =>
            new() { InputName = pixelVectorColumn, FeaturesOutputName = names.Features, DropBatchAxis = dropBatchAxis };
        Lazy<byte[]> Export(Func<OnnxExportOptions> options) => new(() => network.Export(options()), LazyThreadSafetyMode.ExecutionAndPublication);

        ImageBatch = Export(() => Images(resizeInGraph: true, dropBatchAxis: false));
        ImageRow = Export(() => Images(resizeInGraph: true, dropBatchAxis: true));
        ResampledImageBatch = Export(() => Images(resizeInGraph: false, dropBatchAxis: false));
        PixelVectorBatch = Export(() => PixelVectors(dropBatchAxis: false));
        PixelVectorRow = Export(() => PixelVectors(dropBatchAxis: true));
    }

    /// <summary>Pixels 0–255 of the S×S image in, with the bicubic resize, crop and normalization in the graph; batched.</summary>
    public Lazy<byte[]> ImageBatch { get; }

    /// <summary><see cref="ImageBatch"/> for one image per call: what the saved chain runs.</summary>
    public Lazy<byte[]> ImageRow { get; }

    /// <summary>Images already resampled and centred by <see cref="BicubicUpsampler"/>: only scaled in the graph; batched, for in-memory scoring.</summary>
    public Lazy<byte[]> ResampledImageBatch { get; }

    /// <summary>Preprocessed pixels in; batched, for in-memory scoring.</summary>
    public Lazy<byte[]> PixelVectorBatch { get; }

    /// <summary><see cref="PixelVectorBatch"/> for one vector per call: what the saved chain runs.</summary>
    public Lazy<byte[]> PixelVectorRow { get; }
}
