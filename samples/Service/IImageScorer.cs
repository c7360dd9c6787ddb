using Microsoft.ML.Data;

namespace EfficientViT.Service;

/// <summary>Scores one decoded image; safe to call from many requests at once.</summary>
public interface IImageScorer
{
    /// <summary>The scoring mode's name, as given to <c>--scoring</c>.</summary>
    string Name { get; }

    /// <summary>The class scores of <paramref name="image"/>, in the order of <see cref="ImageClassifier.Labels"/>.</summary>
    Task<float[]> ScoreAsync(MLImage image);
}
