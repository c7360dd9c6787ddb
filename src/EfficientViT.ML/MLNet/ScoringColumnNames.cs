namespace EfficientViT.ML.MLNet;

/// <summary>
/// Names of the intermediate columns of a chain that scores images with an exported EfficientViT graph.
/// They carry a random prefix, so that several featurizers or classifiers can share one pipeline, and the
/// chain drops them all at its end.
/// </summary>
/// <param name="Prefix">"EfficientVit_" and eight hexadecimal digits.</param>
internal sealed record ScoringColumnNames(string Prefix)
{
    /// <summary>Names no other chain uses.</summary>
    public static ScoringColumnNames Unique() => new($"EfficientVit_{Guid.NewGuid().ToString("N")[..8]}_");

    /// <summary>The image converted to grayscale, for grayscale models.</summary>
    public string Grayscale => Prefix + "Grayscale";

    /// <summary>The image with its short side resized to the model's and its center square cropped.</summary>
    public string Resized => Prefix + "Resized";

    /// <summary>The resized image's RGB pixels 0–255, channels first: the graph's input.</summary>
    public string Pixels => Prefix + "Pixels";

    /// <summary>The graph's pooled features.</summary>
    public string Features => Prefix + "Features";

    /// <summary>The graph's class probabilities.</summary>
    public string Probabilities => Prefix + "Probabilities";
}
