namespace EfficientViT.ML.Featurization;

/// <summary>Scores batches of model inputs into feature vectors; the engines behind <see cref="FeaturizerEngine"/>.</summary>
internal interface IFeatureScorer : IDisposable
{
    /// <summary>Floats per input item.</summary>
    int InputSize { get; }

    /// <summary>Floats per output item.</summary>
    int FeatureSize { get; }

    /// <summary>Scores <paramref name="count"/> items laid out one after another in <paramref name="inputs"/>, writing count·FeatureSize floats to <paramref name="features"/>.</summary>
    /// <param name="inputs">The items' inputs.</param>
    /// <param name="count">How many items.</param>
    /// <param name="features">Receives the features.</param>
    /// <param name="alone">True when the caller does nothing else meanwhile, so the scorer's threads may keep their cores busy between operations.</param>
    void Run(float[] inputs, int count, float[] features, bool alone);
}
