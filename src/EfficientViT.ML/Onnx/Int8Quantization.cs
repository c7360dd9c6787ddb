namespace EfficientViT.ML.Onnx;

/// <summary>
/// An int8 graph that <see cref="Int8Quantizer"/> calibrated and measured: the graph, the options that
/// write it (for other graphs of the same model and input, e.g. without the batch axis), and its figures.
/// </summary>
public sealed class Int8Quantization
{
    internal Int8Quantization(OnnxInt8Options options, Int8QualityReport quality, byte[] graph)
    {
        Options = options;
        Quality = quality;
        Graph = graph;
    }

    /// <summary>The int8 options of the kept graph: set them as <see cref="OnnxExportOptions.Int8"/> to write it again.</summary>
    public OnnxInt8Options Options { get; }

    /// <summary>The kept graph against float32 on the held-out images, and every graph tried.</summary>
    public Int8QualityReport Quality { get; }

    /// <summary>The kept int8 graph, written with the export options <see cref="Int8Quantizer.Quantize"/> was given.</summary>
    public byte[] Graph { get; }
}
