using EfficientViT.ML.Onnx;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace EfficientViT.ML.MLNet;

/// <summary>Runs an int8 quantization for an ML.NET component, with its figures in the MLContext's log.</summary>
internal static class Int8Log
{
    /// <summary>
    /// Runs <paramref name="quantize"/>, writing each graph it measures to the log of <paramref name="catalog"/>'s
    /// MLContext (trace), then the kept graph's figures (information, or a warning below the target). An
    /// <see cref="ArgumentException"/> about the images is given the component's and the option's names.
    /// </summary>
    public static Int8Quantization Quantize(object catalog, string host, string component, string optionName, Func<Action<string>, Int8Quantization> quantize)
    {
        using var channel = CatalogEnvironment.Of(catalog).Register(host).Start("Int8");
        Int8Quantization quantization;
        try
        {
            quantization = quantize(line => channel.Trace(MessageSensitivity.None, $"{component}: int8 {line}"));
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{component}: {optionName}: {e.Message}", optionName, e);
        }
        var report = quantization.Quality;
        if (report.MeetsTarget)
            channel.Info(MessageSensitivity.None, $"{component}: {report}");
        else
            channel.Warning(MessageSensitivity.None, $"{component}: {report}; kept because AcceptBelowTarget is set");
        return quantization;
    }
}
