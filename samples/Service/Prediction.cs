namespace EfficientViT.Service;

/// <summary>The answer of <c>POST /predict</c>.</summary>
/// <param name="Label">The top class.</param>
/// <param name="Probability">Its score.</param>
/// <param name="Top">The five best classes, best first.</param>
/// <param name="Width">The uploaded image's width.</param>
/// <param name="Height">The uploaded image's height.</param>
public sealed record Prediction(string Label, float Probability, IReadOnlyList<ClassProbability> Top, int Width, int Height)
{
    /// <summary>How many classes <see cref="Top"/> lists (fewer when the model has fewer).</summary>
    public const int TopCount = 5;

    /// <summary>The prediction for <paramref name="scores"/>: classes ordered by score, ties by class index.</summary>
    public static Prediction From(float[] scores, IReadOnlyList<string> labels, int width, int height)
    {
        var top = Enumerable.Range(0, scores.Length)
            .OrderByDescending(i => scores[i]).ThenBy(i => i)
            .Take(TopCount)
            .Select(i => new ClassProbability(labels[i], scores[i]))
            .ToArray();
        return new Prediction(top[0].Label, top[0].Probability, top, width, height);
    }
}

/// <summary>A class and its score.</summary>
/// <param name="Label">The class name.</param>
/// <param name="Probability">The model's score for it.</param>
public sealed record ClassProbability(string Label, float Probability);
