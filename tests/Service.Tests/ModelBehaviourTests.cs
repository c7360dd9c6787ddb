using EfficientViT.Service.LoadTest;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.Service.Tests;

/// <summary>What the service relies on in ML.NET's handling of a loaded model, checked rather than assumed.</summary>
[Collection(ServiceCollection.Name)]
public class ModelBehaviourTests(ServiceFixture service)
{
    [Fact]
    public async Task Transform_of_one_loaded_model_is_safe_to_call_from_many_threads_at_once()
    {
        var classifier = ImageClassifier.Load(service.ModelPath);
        var files = service.FashionMnistPngs.Append(service.ColourPhoto).ToArray();
        var serial = files.Select(file => classifier.ScoreBatch([MLImage.CreateFromFile(file)])[0]).ToArray();

        using var start = new Barrier(8);
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 8).Select(thread => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            var results = new List<(int File, float[] Scores)>();
            for (var round = 0; round < 6; round++)
            {
                // Each thread its own batch of files, in its own order.
                var batch = Enumerable.Range(0, 3).Select(i => (thread + round + 4 * i) % files.Length).ToArray();
                var scores = classifier.ScoreBatch(batch.Select(i => MLImage.CreateFromFile(files[i])).ToArray());
                results.AddRange(batch.Zip(scores));
            }
            return results;
        }, TaskCreationOptions.LongRunning)));

        foreach (var (file, scores) in concurrent.SelectMany(r => r))
            Assert.Equal(serial[file], scores);
    }

    [Fact]
    public void Disposing_a_prediction_engine_closes_the_model_it_was_made_from()
    {
        // Why the engine pool never disposes an engine.
        var classifier = ImageClassifier.Load(service.ModelPath);
        var kept = classifier.CreateEngine();
        using (classifier.CreateEngine())
        {
        }
        using var image = MLImage.CreateFromFile(service.FashionMnistPngs[0]);
        Assert.ThrowsAny<Exception>(() => kept.Predict(new ImageInput { Image = image }));
    }

    [Fact]
    public void Transform_disposes_the_images_it_read()
    {
        // Why the service reads an image's size before scoring it.
        var classifier = ImageClassifier.Load(service.ModelPath);
        var image = MLImage.CreateFromFile(service.FashionMnistPngs[0]);
        classifier.ScoreBatch([image]);
        Assert.Throws<InvalidOperationException>(() => image.Width);
    }

    [Fact]
    public void The_class_names_come_from_the_score_column_slot_names()
    {
        var classifier = ImageClassifier.Load(service.ModelPath);
        Assert.Equal(service.ClassNames.Order(StringComparer.Ordinal), classifier.Labels.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_model_without_an_image_column_is_refused_with_the_reason()
    {
        var mlContext = new MLContext(seed: 0);
        var data = mlContext.Data.LoadFromEnumerable(new[] { new TextRow { Text = "a" } });
        var model = mlContext.Transforms.Text.FeaturizeText("Features", "Text").Fit(data);
        var error = Assert.Throws<ModelLoadException>(() => new ImageClassifier(mlContext, model, "text.zip"));
        Assert.StartsWith("model 'text.zip' does not take images in a column 'Image': ", error.Message);
        Assert.Contains("Text", error.Message);
    }

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }
}
