using EfficientViT.ML.MLNet;
using Microsoft.ML;

namespace EfficientViT.Service;

/// <summary>Loads the model zip the service scores with, or says in one sentence why it cannot.</summary>
public static class ModelLoading
{
    /// <summary>Loads <paramref name="path"/> as an ML.NET model zip whose EfficientViT steps score many images per ONNX Runtime call.</summary>
    /// <param name="mlContext">The context to load in.</param>
    /// <param name="path">The model zip.</param>
    /// <param name="rowThreads">ONNX Runtime threads for one image scored alone (see <see cref="ServiceOptions.RowThreads"/>).</param>
    /// <exception cref="ModelLoadException">The file is missing or is not a model zip ML.NET can load.</exception>
    public static ITransformer Load(MLContext mlContext, string path, int rowThreads)
    {
        if (!File.Exists(path))
            throw new ModelLoadException($"model file '{Path.GetFullPath(path)}' not found (pass --model PATH; 'efficientvit demo', run by scripts/demo.sh, writes runs/demo/fashion-mnist-efficientvit-m0.zip).");
        try
        {
            return mlContext.Model.LoadWithBatchedScoring(path, new BatchedScoringOptions { RowThreads = rowThreads }, out _);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ModelLoadException($"model file '{Path.GetFullPath(path)}' is not an ML.NET model zip that can be loaded: {Innermost(e).Message}", e);
        }
    }

    private static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);
}
