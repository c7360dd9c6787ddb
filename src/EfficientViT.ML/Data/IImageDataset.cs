namespace EfficientViT.ML.Data;

/// <summary>A labelled image classification data set with random access.</summary>
public interface IImageDataset
{
    /// <summary>The number of samples.</summary>
    int Count { get; }

    /// <summary>The class names; a label is an index into this list.</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>
    /// The sample at <paramref name="index"/> (0 ≤ index &lt; <see cref="Count"/>). Safe to call from several
    /// threads at once; may decode the image on each call. The caller may modify the returned pixels.
    /// </summary>
    ImageSample Get(int index);

    /// <summary>The label of the sample at <paramref name="index"/>, without decoding its image.</summary>
    int LabelOf(int index);
}
