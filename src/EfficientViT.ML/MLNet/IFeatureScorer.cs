namespace EfficientViT.ML.MLNet;

/// <summary>Scores batches of model inputs into feature vectors (<see cref="OnnxFeatureSession"/>; the tests give their own).</summary>
internal interface IFeatureScorer : IDisposable
{
    /// <summary>How many calls run at once; more wait. The batched cursor keeps this many batches scoring.</summary>
    int Concurrency { get; }

    /// <summary>Floats per input item.</summary>
    int InputSize { get; }

    /// <summary>Floats per output item.</summary>
    int FeatureSize { get; }

    /// <summary>Scores <paramref name="count"/> items laid out one after another in <paramref name="inputs"/>, writing count·FeatureSize floats to <paramref name="features"/>.</summary>
    void Run(float[] inputs, int count, float[] features);
}
