using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.Service;

/// <summary>
/// One image per call, each on a <c>PredictionEngine</c> borrowed from a pool (an engine is not thread-safe;
/// the pool keeps one per concurrent request and reuses them).
/// </summary>
/// <remarks>
/// Engines are never disposed: disposing a <c>PredictionEngine</c> disposes the transformer it was made
/// from, which the other engines and the batched scoring share (its ONNX Runtime session is closed). The
/// pool is therefore a plain <see cref="DefaultObjectPool{T}"/>, not the disposing pool that
/// <see cref="DefaultObjectPoolProvider"/> makes for disposable objects; engines beyond those it retains
/// are left to the garbage collector.
/// <para>
/// An engine keeps what its steps made for the last image until its next one: for the demo's chain, which
/// converts to grayscale before it resizes, a full-size copy of the image. After a large image the engine
/// scores a one-pixel image before it goes back to the pool, so that an idle pool holds no large images.
/// </para>
/// </remarks>
public sealed class EnginePoolScorer : IImageScorer
{
    /// <summary>The name given to <c>--scoring</c>.</summary>
    public const string ModeName = "engines";

    /// <summary>Images of more pixels than this are followed by a one-pixel image on their engine.</summary>
    public const long LargeImagePixels = 1_000_000;

    private readonly ObjectPool<PredictionEngine<ImageInput, ScoreOutput>> pool;

    /// <param name="classifier">The model.</param>
    /// <param name="retained">How many idle engines the pool keeps.</param>
    public EnginePoolScorer(ImageClassifier classifier, int retained) =>
        pool = new DefaultObjectPool<PredictionEngine<ImageInput, ScoreOutput>>(new EnginePolicy(classifier), retained);

    /// <inheritdoc/>
    public string Name => ModeName;

    /// <inheritdoc/>
    public Task<float[]> ScoreAsync(MLImage image) => Task.FromResult(Score(image));

    /// <summary>Scores <paramref name="image"/> on this thread.</summary>
    public float[] Score(MLImage image)
    {
        var engine = pool.Get();
        try
        {
            var scores = engine.Predict(new ImageInput { Image = image }).Score.ToArray();
            if ((long)image.Width * image.Height > LargeImagePixels)
                ForgetLastImage(engine);
            return scores;
        }
        finally
        {
            pool.Return(engine);
        }
    }

    private static void ForgetLastImage(PredictionEngine<ImageInput, ScoreOutput> engine)
    {
        using var pixel = MLImage.CreateFromPixels(1, 1, MLPixelFormat.Rgba32, [0, 0, 0, 255]);
        engine.Predict(new ImageInput { Image = pixel });
    }

    private sealed class EnginePolicy(ImageClassifier classifier) : IPooledObjectPolicy<PredictionEngine<ImageInput, ScoreOutput>>
    {
        public PredictionEngine<ImageInput, ScoreOutput> Create() => classifier.CreateEngine();

        public bool Return(PredictionEngine<ImageInput, ScoreOutput> engine) => true;
    }
}
