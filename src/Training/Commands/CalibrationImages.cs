using EfficientViT.ML.Data;
using EfficientViT.ML.Preprocessing;

namespace EfficientViT.Training.Commands;

/// <summary>The images <c>export --int8</c> calibrates on, in the format of the graph input it writes.</summary>
internal static class CalibrationImages
{
    /// <summary>
    /// <paramref name="count"/> images spread evenly over <paramref name="dataset"/> (the same ones every
    /// run), with the checkpoint's evaluation transform; as pixels 0–255 when the graph normalizes them itself.
    /// </summary>
    public static IReadOnlyList<float[]> Load(IImageDataset dataset, ImagePreprocessing preprocessing, int count, bool normalizationInGraph)
    {
        if (dataset.Count == 0)
            throw new ArgumentException("--calibration holds no images.");
        count = Math.Min(count, dataset.Count);
        var transform = new ImageTransform(preprocessing, train: false);
        var planeSize = preprocessing.ImageSize * preprocessing.ImageSize;
        var images = new float[count][];
        for (var i = 0; i < count; i++)
        {
            var image = transform.Apply(dataset.Get((int)((long)i * dataset.Count / count)));
            if (normalizationInGraph)
            {
                // The transform normalizes, (p/255 − mean)/std; the graph wants p back.
                for (var c = 0; c < 3; c++)
                    for (var k = c * planeSize; k < (c + 1) * planeSize; k++)
                        image[k] = (image[k] * preprocessing.Std[c] + preprocessing.Mean[c]) * 255f;
            }
            images[i] = image;
        }
        return images;
    }
}
