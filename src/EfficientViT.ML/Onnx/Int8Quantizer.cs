using System.Globalization;
using EfficientViT.ML.Modeling;
using Microsoft.ML.OnnxRuntime;

namespace EfficientViT.ML.Onnx;

/// <summary>
/// Makes an int8 graph of an EfficientViT that checks itself: calibrates on the user's images, measures the
/// int8 features against float32 on images held out of the calibration, repairs the graph when it misses
/// the target, and refuses (or, if asked, warns) when nothing meets it.
/// </summary>
/// <remarks>
/// The repairs, tried in this order, each on top of the best graph so far and measured on the holdout: bias
/// correction (each convolution's bias takes back the mean shift its rounded weights cause; no cost in
/// speed); the residual stream float (1.10–1.18× slower); then leaving float the fewest convolutions that
/// cost the most, ranked by measuring each one left float alone (a measurement per convolution: on a large
/// model this takes minutes). The first graph that meets the target is kept. See docs/guide/int8.md.
/// </remarks>
/// <example>
/// <code>
/// // A few hundred of your images, each (3, S, S) in the graph input's format.
/// IReadOnlyList&lt;float[]&gt; images = ...;
/// Int8Quantization int8 = Int8Quantizer.Quantize(model, images, new OnnxExportOptions());
/// Console.WriteLine(int8.Quality);   // int8 against float32 on 51 held-out images ...: plain: mean cosine 0.9972, lowest 0.9746 ...
/// File.WriteAllBytes("efficientvit_int8.onnx", int8.Graph);
/// </code>
/// </example>
public static class Int8Quantizer
{
    /// <summary>
    /// Calibrates an int8 graph of <paramref name="model"/> on <paramref name="images"/> and keeps it if it
    /// meets <paramref name="quality"/>'s target on the held-out images, repairing it first if needed.
    /// </summary>
    /// <param name="model">The model to quantize.</param>
    /// <param name="images">Calibration images, each (3, S, S) row-major in the graph input's format; at least 16 distinct ones not of one flat colour, a few hundred for a good calibration.</param>
    /// <param name="exportOptions">The export options of the graph (their <see cref="OnnxExportOptions.Int8"/> is ignored).</param>
    /// <param name="method">How activation ranges are derived from the values.</param>
    /// <param name="quality">The target and what to do below it; default <see cref="Int8QualityOptions"/>.</param>
    /// <param name="holdout">Images to measure on; null holds out every fifth of <paramref name="images"/>.</param>
    /// <param name="log">Receives a line per graph measured (the float-convolution repair takes minutes on a large model).</param>
    /// <exception cref="ArgumentException">Too few images, images of one flat colour or repeated, or of the wrong size.</exception>
    /// <exception cref="Int8QualityException">No graph met the target and <see cref="Int8QualityOptions.AcceptBelowTarget"/> is false.</exception>
    public static Int8Quantization Quantize(EfficientVit model, IReadOnlyList<float[]> images, OnnxExportOptions? exportOptions = null,
        Int8CalibrationMethod method = Int8Calibrator.DefaultMethod, Int8QualityOptions? quality = null,
        IReadOnlyList<float[]>? holdout = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        exportOptions ??= new OnnxExportOptions();
        quality ??= new Int8QualityOptions();
        quality.Validate();
        var (calibrationImages, holdoutImages) = Int8CalibrationImages.Split(images, holdout);
        var calibration = Int8Calibrator.Calibrate(model, calibrationImages, exportOptions, method);

        var meter = new Meter(model, exportOptions, holdoutImages);
        var tried = new List<Int8QualityMeasurement>();
        Int8QualityMeasurement Measure(string name, OnnxInt8Options options)
        {
            var measurement = meter.Measure(name, options);
            tried.Add(measurement);
            log?.Invoke(measurement.ToString());
            return measurement;
        }
        bool Meets(Int8QualityMeasurement m) => Int8QualityReport.Meets(m, quality.MinimumMeanCosine, quality.MinimumLowestCosine);

        var plain = new OnnxInt8Options { Calibration = calibration };
        var candidates = new List<(Int8QualityMeasurement Measurement, OnnxInt8Options Options)> { (Measure("plain", plain), plain) };
        if (!Meets(candidates[^1].Measurement) && quality.Repair)
            Repair(model, exportOptions, candidates, Measure, Meets);

        var (kept, keptOptions) = candidates.FirstOrDefault(c => Meets(c.Measurement));
        if (kept is null)
            (kept, keptOptions) = candidates.MaxBy(c => (c.Measurement.LowestCosine >= quality.MinimumLowestCosine, c.Measurement.MeanCosine));
        var report = new Int8QualityReport(kept, tried, quality, calibrationImages.Count, holdoutImages.Count);
        if (!report.MeetsTarget && !quality.AcceptBelowTarget)
            throw new Int8QualityException(report);

        var options = keptOptions with { Quality = report.ToString() };
        var finalOptions = exportOptions.Copy();
        finalOptions.Int8 = options;
        return new Int8Quantization(options, report, EfficientVitOnnxExporter.ToBytes(model, finalOptions));
    }

    private static void Repair(EfficientVit model, OnnxExportOptions exportOptions,
        List<(Int8QualityMeasurement Measurement, OnnxInt8Options Options)> candidates,
        Func<string, OnnxInt8Options, Int8QualityMeasurement> measure, Func<Int8QualityMeasurement, bool> meets)
    {
        // Each repair builds on the best graph so far; the first that meets the target ends the search.
        (Int8QualityMeasurement Measurement, OnnxInt8Options Options) Best() => candidates.MaxBy(c => c.Measurement.MeanCosine);
        bool Try(string name, Func<OnnxInt8Options, OnnxInt8Options> change)
        {
            var (best, options) = Best();
            var changed = change(options);
            candidates.Add((measure(best.Graph == "plain" ? name : $"{best.Graph}, {name}", changed), changed));
            return meets(candidates[^1].Measurement);
        }

        if (Try("bias correction", o => o with { CorrectBias = true }))
            return;
        // The residual stream's additions in uint8 were the largest single cost measured (docs/guide/int8.md);
        // float, they cost 1.10–1.18× of speed.
        if (Try("residual stream float", o => o with { QuantizeResiduals = false }))
            return;

        // The convolutions that cost the most, measured one at a time left float on top of the best graph.
        var (baseMeasurement, baseOptions) = Best();
        var descriptions = EfficientVitOnnxExporter.QuantizableConvolutions(model, exportOptions);
        var gains = new List<(int Index, double Mean)>();
        for (var k = 0; k < descriptions.Count; k++)
        {
            if (!baseOptions.QuantizesConvolution(k))
                continue;
            var alone = baseOptions with { FloatConvolutions = new HashSet<int> { k } };
            gains.Add((k, measure($"{baseMeasurement.Graph}, convolution {k} float ({descriptions[k]})", alone).MeanCosine));
        }
        var ranked = gains.OrderByDescending(g => g.Mean).Select(g => g.Index).ToList();
        // Leaving more than a quarter of the convolutions float gives up most of int8's speed.
        for (var count = 1; count <= Math.Max(1, descriptions.Count / 4); count = count < 4 ? count + 1 : count * 3 / 2)
        {
            var floats = ranked.Take(count).ToHashSet();
            var options = baseOptions with { FloatConvolutions = floats };
            var name = string.Create(CultureInfo.InvariantCulture, $"{baseMeasurement.Graph}, {count} of {descriptions.Count} convolutions float ({string.Join(", ", floats.Order())})");
            candidates.Add((measure(name, options), options));
            if (meets(candidates[^1].Measurement))
                return;
        }
    }

    /// <summary>Measures int8 graphs against the float32 graph of the same model and input on the held-out images.</summary>
    private sealed class Meter
    {
        private readonly EfficientVit model;
        private readonly OnnxExportOptions options;
        private readonly IReadOnlyList<float[]> holdout;
        private readonly int side;
        private readonly string[] outputs;
        private readonly float[][] floatOutputs;

        public Meter(EfficientVit model, OnnxExportOptions exportOptions, IReadOnlyList<float[]> holdout)
        {
            this.model = model;
            this.holdout = holdout;
            // Batched, whatever the graph the caller writes: the held-out images run a batch at a time.
            options = exportOptions.Copy();
            options.DropBatchAxis = false;
            options.Int8 = null;
            // With a head, the logits too, for the top-1 agreement, whether or not the caller's graph outputs them.
            options.IncludeLogits = model.Head is not null;
            side = options.InputSize ?? model.Config.ImageSize;
            outputs = options.IncludeLogits ? [options.FeaturesOutputName, options.LogitsOutputName] : [options.FeaturesOutputName];
            floatOutputs = Run(EfficientVitOnnxExporter.ToBytes(model, options));
        }

        public Int8QualityMeasurement Measure(string name, OnnxInt8Options int8)
        {
            var int8Options = options.Copy();
            int8Options.Int8 = int8;
            var int8Outputs = Run(EfficientVitOnnxExporter.ToBytes(model, int8Options));
            var cosines = RowCosines(floatOutputs[0], int8Outputs[0], holdout.Count);
            double? agreement = outputs.Length > 1 ? Top1Agreement(floatOutputs[1], int8Outputs[1], holdout.Count) : null;
            return new Int8QualityMeasurement(name, cosines.Average(), cosines.Min(), agreement);
        }

        private float[][] Run(byte[] graph)
        {
            var collected = outputs.Select(_ => new List<float>()).ToArray();
            using var session = new InferenceSession(graph);
            OnnxImageBatches.Run(session, options.InputName, holdout, side, outputs, (k, values, _) => collected[k].AddRange(values));
            return collected.Select(values => values.ToArray()).ToArray();
        }

        private static double[] RowCosines(float[] a, float[] b, int rows)
        {
            var width = a.Length / rows;
            var cosines = new double[rows];
            for (var r = 0; r < rows; r++)
            {
                double dot = 0, na = 0, nb = 0;
                for (var i = r * width; i < (r + 1) * width; i++)
                {
                    dot += (double)a[i] * b[i];
                    na += (double)a[i] * a[i];
                    nb += (double)b[i] * b[i];
                }
                // Two zero vectors agree; a zero vector against another does not.
                cosines[r] = na == 0 && nb == 0 ? 1 : na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
            }
            return cosines;
        }

        private static double Top1Agreement(float[] a, float[] b, int rows)
        {
            var width = a.Length / rows;
            var same = 0;
            for (var r = 0; r < rows; r++)
            {
                if (ArgMax(a.AsSpan(r * width, width)) == ArgMax(b.AsSpan(r * width, width)))
                    same++;
            }
            return (double)same / rows;
        }

        private static int ArgMax(ReadOnlySpan<float> values)
        {
            var best = 0;
            for (var i = 1; i < values.Length; i++)
            {
                if (values[i] > values[best])
                    best = i;
            }
            return best;
        }
    }
}
