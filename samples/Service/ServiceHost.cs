using Microsoft.AspNetCore.Http.Features;

namespace EfficientViT.Service;

/// <summary>Builds and runs the web application: <c>GET /</c>, <c>GET /health</c>, <c>POST /predict</c>.</summary>
public static class ServiceHost
{
    /// <summary>Builds the application from command-line <paramref name="args"/>.</summary>
    /// <param name="args">ASP.NET Core arguments plus the service's (<c>--model PATH</c>, see <see cref="ServiceOptions"/>).</param>
    /// <param name="classifier">A model to serve instead of loading <c>--model</c> (tools and tests that fit one in memory).</param>
    /// <exception cref="ModelLoadException">The model cannot be loaded or is not an image classifier.</exception>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public static WebApplication Build(string[] args, ImageClassifier? classifier = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        var options = ServiceOptions.From(builder.Configuration);
        classifier ??= ImageClassifier.Load(options.ModelPath, options.RowThreads);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes);
        builder.Services.Configure<FormOptions>(form => form.MultipartBodyLengthLimit = options.MaxBodyBytes);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(classifier);
        builder.Services.AddSingleton<IImageScorer>(_ => options.Scoring == EnginePoolScorer.ModeName
            ? new EnginePoolScorer(classifier, retained: 4 * Environment.ProcessorCount)
            : new BatchingScorer(classifier, options.MaxBatchSize, TimeSpan.FromMilliseconds(options.BatchWaitMilliseconds), options.BatchWorkers,
                options.MinBatchSize ?? ScoringCost.SmallestWorthwhileBatch(classifier, options.MaxBatchSize)));

        var app = builder.Build();
        app.MapGet("/", () => Results.Content(IndexPage.Html, "text/html; charset=utf-8"));
        app.MapGet("/health", (ImageClassifier model, IImageScorer scorer) =>
            Results.Json(new { status = "ok", model = model.Source, classes = model.Labels.Count, scoring = scorer.Name, minBatch = (scorer as BatchingScorer)?.MinBatchSize }));
        app.MapPost("/predict", PredictAsync);
        return app;
    }

    /// <summary>Builds and runs the application until it is stopped; a model or option that cannot be used ends it with one line on stderr and exit code 2.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        WebApplication app;
        try
        {
            app = Build(args);
        }
        catch (Exception e) when (e is ModelLoadException or ArgumentException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
        await app.RunAsync();
        return 0;
    }

    private static async Task<IResult> PredictAsync(HttpRequest request, ImageClassifier model, IImageScorer scorer, ServiceOptions options, CancellationToken cancellation)
    {
        try
        {
            var bytes = await UploadReader.ReadAsync(request, options.MaxBodyBytes, cancellation);
            using var image = ImageDecoding.Decode(bytes, options.MaxPixels);
            // Read before scoring: a Transform cursor disposes the images it was given when it is done.
            var (width, height) = (image.Width, image.Height);
            var scores = await scorer.ScoreAsync(image);
            return Results.Json(Prediction.From(scores, model.Labels, width, height));
        }
        catch (RequestRejectedException e)
        {
            return Error(e.StatusCode, e.Message);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413RequestEntityTooLarge)
        {
            // Kestrel's limit, reached while reading a body that declared no length.
            return Error(e.StatusCode, UploadReader.TooLarge(null, options.MaxBodyBytes).Message);
        }
        catch (BadHttpRequestException e)
        {
            // Malformed requests and multipart bodies.
            return Error(e.StatusCode, e.Message);
        }
        catch (InvalidDataException e)
        {
            // Form parsing past its limits.
            return Error(StatusCodes.Status400BadRequest, e.Message);
        }
    }

    private static IResult Error(int statusCode, string message) => Results.Json(new { error = message }, statusCode: statusCode);
}
