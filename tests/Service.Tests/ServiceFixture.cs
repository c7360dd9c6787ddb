using EfficientViT.ML.Data;
using EfficientViT.Service.LoadTest;
using Microsoft.AspNetCore.Builder;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.Service.Tests;

/// <summary>
/// A classifier zip made from repository files (the M0 checkpoint fixture and a few Fashion-MNIST test images),
/// the service started on a loopback port with it, and image files to send.
/// </summary>
public sealed class ServiceFixture : IAsyncLifetime
{
    private readonly TemporaryFolder folder = new();
    private WebApplication? app;
    private PredictionEngine<ImageInput, ScoreOutput>? engine;

    /// <summary>The model zip.</summary>
    public string ModelPath => Path.Combine(folder.Path, "fashion-mnist-small.zip");

    /// <summary>The Fashion-MNIST class names.</summary>
    public IReadOnlyList<string> ClassNames { get; private set; } = [];

    /// <summary>One PNG file per class, from the test images the model was not fitted on.</summary>
    public IReadOnlyList<string> FashionMnistPngs { get; private set; } = [];

    /// <summary>A 320x240 colour JPEG with gradients, shapes and noise.</summary>
    public string ColourPhoto => Path.Combine(folder.Path, "colour-photo.jpg");

    /// <summary>A client for the running service.</summary>
    public HttpClient Client { get; private set; } = new();

    /// <summary>The service's address, ending in '/'.</summary>
    public Uri Address => Client.BaseAddress!;

    public async Task InitializeAsync()
    {
        var data = FashionMnistDataset.Load(FashionMnistSplit.Test);
        ClassNames = data.ClassNames;
        FashionMnistClassifier.FitAndSave(data, ModelPath);
        FashionMnistPngs = Enumerable.Range(0, ClassNames.Count).Select(label =>
        {
            var index = Enumerable.Range(9000, 1000).First(i => data.LabelOf(i) == label);
            var path = Path.Combine(folder.Path, $"fashion-mnist-{index}.png");
            File.WriteAllBytes(path, PngImages.Encode(data.Get(index)));
            return path;
        }).ToArray();
        TestImages.WriteColourPhoto(ColourPhoto, 320, 240);

        // The reference: the same zip loaded on its own, one image per PredictionEngine call.
        var reference = new MLContext(seed: 1);
        var model = reference.Model.Load(ModelPath, out _);
        engine = reference.Model.CreatePredictionEngine<ImageInput, ScoreOutput>(model, inputSchemaDefinition: SchemaDefinition.Create(typeof(ImageInput)));
        Labels = new ImageClassifier(reference, model, ModelPath).Labels;

        // Batched, with a Transform from two images on (start-up might measure that larger batches only pay):
        // the batching is what needs testing.
        app = ServiceHost.Build(["--model", ModelPath, "--scoring", "batched", "--min-batch", "2", "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning"]);
        await app.StartAsync();
        Client = new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/") };
    }

    /// <summary>The class names in score order, read by the reference.</summary>
    public IReadOnlyList<string> Labels { get; private set; } = [];

    /// <summary>The serial answer for an image file: ML.NET's own image loader, then a PredictionEngine.</summary>
    public Prediction SerialAnswer(string imageFile)
    {
        using var image = MLImage.CreateFromFile(imageFile);
        var (width, height) = (image.Width, image.Height);
        lock (engine!)
            return Prediction.From(engine.Predict(new ImageInput { Image = image }).Score.ToArray(), Labels, width, height);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        if (app is not null)
            await app.DisposeAsync();
        folder.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ServiceCollection : ICollectionFixture<ServiceFixture>
{
    public const string Name = "service";
}
