using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.Service;

/// <summary>
/// One image per call, each on a <c>PredictionEngine</c> borrowed from a pool (an engine is not thread-safe;
/// the pool keeps one per concurrent request and reuses them).
/// </summary>
public sealed class EnginePoolScorer : IImageScorer, IDisposable
{
    /// <summary>The name given to <c>--scoring</c>.</summary>
    public const string ModeName = "engines";

    private readonly ObjectPool<PredictionEngine<ImageInput, ScoreOutput>> pool;

    /// <param name="classifier">The model.</param>
    /// <param name="retained">How many idle engines the pool keeps.</param>
    public EnginePoolScorer(ImageClassifier classifier, int retained) =>
        pool = new DefaultObjectPoolProvider { MaximumRetained = retained }.Create(new EnginePolicy(classifier));

    /// <inheritdoc/>
    public string Name => ModeName;

    /// <inheritdoc/>
    public Task<float[]> ScoreAsync(MLImage image)
    {
        var engine = pool.Get();
        try
        {
            return Task.FromResult(engine.Predict(new ImageInput { Image = image }).Score.ToArray());
        }
        finally
        {
            pool.Return(engine);
        }
    }

    /// <summary>Disposes the idle engines.</summary>
    public void Dispose() => (pool as IDisposable)?.Dispose();

    private sealed class EnginePolicy(ImageClassifier classifier) : IPooledObjectPolicy<PredictionEngine<ImageInput, ScoreOutput>>
    {
        public PredictionEngine<ImageInput, ScoreOutput> Create() => classifier.CreateEngine();

        public bool Return(PredictionEngine<ImageInput, ScoreOutput> engine) => true;
    }
}
