using EfficientViT.ML.Modeling;
using Microsoft.ML.OnnxRuntime;

namespace EfficientViT.ML.Onnx;

/// <summary>
/// Measures the ranges of an EfficientViT's activations on calibration images, for an int8 export
/// (<see cref="OnnxExportOptions.Int8"/>): it runs the float graph in ONNX Runtime with every activation the
/// int8 graph may quantize as an extra output.
/// </summary>
/// <example>
/// <code>
/// // A few hundred of the user's own images, each (3, S, S) in the graph input's format: normalized, or
/// // pixels 0–255 when the export options put the normalization in the graph.
/// IReadOnlyList&lt;float[]&gt; images = ...;
/// Int8Calibration calibration = Int8Calibrator.Calibrate(model, images);
/// var options = new OnnxExportOptions { Int8 = new OnnxInt8Options { Calibration = calibration } };
/// EfficientVitOnnxExporter.Export(model, "efficientvit_int8.onnx", options);
/// </code>
/// </example>
public static class Int8Calibrator
{
    /// <summary>The method <see cref="Calibrate"/> uses unless told otherwise (measured: docs/guide/int8.md).</summary>
    public const Int8CalibrationMethod DefaultMethod = Int8CalibrationMethod.Percentile;

    /// <summary>
    /// Runs the float graph over <paramref name="images"/> and derives each activation's range with
    /// <paramref name="method"/>. The same model, export options, images and method give the same ranges.
    /// </summary>
    /// <param name="model">The model to quantize.</param>
    /// <param name="images">The calibration images, each (3, S, S) row-major, S the graph input's side, in the graph input's format.</param>
    /// <param name="exportOptions">The export options the int8 graph will be written with (their <see cref="OnnxExportOptions.Int8"/> is ignored).</param>
    /// <param name="method">How ranges are derived from the values.</param>
    /// <exception cref="ArgumentException">No images, or an image of the wrong size.</exception>
    public static Int8Calibration Calibrate(EfficientVit model, IReadOnlyList<float[]> images,
        OnnxExportOptions? exportOptions = null, Int8CalibrationMethod method = DefaultMethod)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        exportOptions ??= new OnnxExportOptions();
        if (images.Count == 0)
            throw new ArgumentException("Int8 calibration needs at least one image; none were given.", nameof(images));
        var side = exportOptions.InputSize ?? model.Config.ImageSize;
        var imageLength = 3L * side * side;
        for (var i = 0; i < images.Count; i++)
        {
            if (images[i] is null || images[i].LongLength != imageLength)
                throw new ArgumentException(
                    $"Calibration image {i} has {images[i]?.LongLength ?? 0} values; the graph input takes (3, {side}, {side}) = {imageLength}.", nameof(images));
        }

        var (graph, pointCount) = EfficientVitOnnxExporter.CalibrationGraph(model, exportOptions);
        var statistics = Enumerable.Range(0, pointCount).Select(_ => new ActivationStatistics()).ToArray();
        var outputNames = Enumerable.Range(0, pointCount).Select(EfficientVitOnnxExporter.CalibrationOutputName).ToArray();
        using (var session = new InferenceSession(graph))
        {
            OnnxImageBatches.Run(session, exportOptions.InputName, images, side, outputNames, (k, values, shape) => statistics[k].Observe(values, shape));
            // The histograms span [0, max |value|], known only after the first pass.
            if (method != Int8CalibrationMethod.MinMax)
                OnnxImageBatches.Run(session, exportOptions.InputName, images, side, outputNames, (k, values, _) => statistics[k].Count(values));
        }
        return new Int8Calibration(model.Config.VariantName, method, statistics.Select(s => s.Range(method)).ToArray())
        {
            ChannelMeans = statistics.Select(s => s.ChannelMeans).ToArray(),
        };
    }
}
