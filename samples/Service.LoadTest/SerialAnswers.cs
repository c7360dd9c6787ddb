using Microsoft.ML.Data;

namespace EfficientViT.Service.LoadTest;

/// <summary>The model's own answers, the reference for the service's: one image per <c>PredictionEngine</c> call.</summary>
public static class SerialAnswers
{
    /// <summary>
    /// The answer for each file, decoded by ML.NET's own image loader. The engine is not disposed: that would
    /// dispose the model it shares with the service.
    /// </summary>
    public static Prediction[] For(ImageClassifier model, IEnumerable<byte[]> files)
    {
        var engine = model.CreateEngine();
        return files.Select(file =>
        {
            using var image = MLImage.CreateFromStream(new MemoryStream(file));
            var scores = engine.Predict(new ImageInput { Image = image }).Score.ToArray();
            return Prediction.From(scores, model.Labels, image.Width, image.Height);
        }).ToArray();
    }
}
