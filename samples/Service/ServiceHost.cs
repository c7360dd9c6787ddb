using Microsoft.AspNetCore.Http.Features;

namespace EfficientViT.Service;

/// <summary>Builds and runs the web application: <c>GET /</c>, <c>GET /health</c>, <c>POST /predict</c>.</summary>
public static class ServiceHost
{
    /// <summary>Builds the application from command-line <paramref name="args"/>.</summary>
    /// <param name="args">ASP.NET Core arguments plus the service's (<c>--model PATH</c>, see <see cref="ServiceOptions"/>).</param>
    /// <param name="classifier">
    /// A model to serve instead of loading <c>--model</c> (tools and tests that fit one in memory); it stays the
    /// caller's to dispose. A model loaded from <c>--model</c> is disposed with the application.
    /// </param>
    /// <exception cref="ModelLoadException">The model cannot be loaded or is not an image classifier.</exception>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public static WebApplication Build(string[] args, ImageClassifier? classifier = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        var options = ServiceOptions.From(builder.Configuration);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes);
        builder.Services.Configure<FormOptions>(form => form.MultipartBodyLengthLimit = options.MaxBodyBytes);
        builder.Services.AddSingleton(options);
        if (classifier is null)
        {
            var loaded = ImageClassifier.Load(options.ModelPath, options.RowThreads);
            // Made by a factory, so that the container owns it: disposed when the application is, after the
            // requests in flight have finished and after the scorer made from it.
            builder.Services.AddSingleton(_ => loaded);
        }
        else
        {
            builder.Services.AddSingleton(classifier);
        }
        // Measured with the model loaded: under an address-space limit, what is left then is what requests get.
        var (budgetBytes, budgetReason) = options.DecodeBudgetBytes is { } given ? (given, "--max-decode-mb") : MemoryRoom.DefaultBudget();
        budgetBytes = Math.Max(1, budgetBytes);
        builder.Services.AddSingleton(new DecodeBudget(budgetBytes, DecodeBudget.ServiceLaneBytes(budgetBytes)) { Emptied = FreedMemory.ReturnSoon });
        builder.Services.AddSingleton<IImageScorer>(services =>
        {
            var model = services.GetRequiredService<ImageClassifier>();
            return options.Scoring == EnginePoolScorer.ModeName
                ? new EnginePoolScorer(model, retained: 4 * Environment.ProcessorCount)
                : new BatchingScorer(model, options.MaxBatchSize, TimeSpan.FromMilliseconds(options.BatchWaitMilliseconds), options.BatchWorkers,
                    options.MinBatchSize ?? ScoringCost.SmallestWorthwhileBatch(model, options.MaxBatchSize));
        });

        var app = builder.Build();
        // Made now rather than at the first request: batched scoring measures the model at start-up, and a model
        // the container made is disposed with the application even when no request came.
        _ = app.Services.GetRequiredService<IImageScorer>();
        app.Logger.LogInformation("decoded images may take {Megabytes:N0} MB at once ({Reason}): {Megapixels:N1} megapixels", budgetBytes / 1024 / 1024, budgetReason,
            budgetBytes / EncodedImage.DecodedBytesPerPixel / 1e6);
        // Whatever a request runs into answers JSON, as every refusal does, and not an empty 500.
        app.UseExceptionHandler(failed => failed.Run(context =>
            Error(StatusCodes.Status500InternalServerError, "the service failed to answer this request; see its log").ExecuteAsync(context)));
        app.MapGet("/", () => Results.Content(IndexPage.Html, "text/html; charset=utf-8"));
        app.MapGet("/health", (ImageClassifier model, IImageScorer scorer, DecodeBudget budget) =>
            Results.Json(new { status = "ok", model = model.Source, classes = model.Labels.Count, scoring = scorer.Name, minBatch = (scorer as BatchingScorer)?.MinBatchSize, decodeBudgetMb = budget.CapacityBytes / 1024 / 1024 }));
        app.MapPost("/predict", PredictAsync);
        return app;
    }

    /// <summary>Builds and runs the application until it is stopped; a model or option that cannot be used ends it with one line on stderr and exit code 2.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        // The service scores with ONNX Runtime only: keep EfficientViT.ML from loading libtorch when it finds one
        // (beside the program or in the NuGet cache), which would cost about 130 MB resident and 400 MB of address
        // space. Read by the library when it is first used, which is below.
        Environment.SetEnvironmentVariable("EFFICIENTVIT_NO_LIBTORCH_PRELOAD", "1");
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
        // SIGTERM and Ctrl+C stop it gracefully: requests in flight finish, then the model is disposed (with its
        // temporary copy of the network) when RunAsync disposes the application.
        await app.RunAsync();
        return 0;
    }

    private static async Task<IResult> PredictAsync(HttpRequest request, ImageClassifier model, IImageScorer scorer, ServiceOptions options, DecodeBudget budget,
        ILoggerFactory logs, CancellationToken cancellation)
    {
        try
        {
            var bytes = await UploadReader.ReadAsync(request, options.MaxBodyBytes, cancellation);
            using var encoded = EncodedImage.Open(bytes, options.MaxPixels);
            if (encoded.DecodedBytes > budget.LargestShareBytes)
                throw new RequestRejectedException(StatusCodes.Status413RequestEntityTooLarge,
                    $"the {encoded.Width}x{encoded.Height} image takes {encoded.DecodedBytes / 1024.0 / 1024.0:N0} MB decoded, more than the {budget.LargestShareBytes / 1024 / 1024:N0} MB this service lets one image take");
            using var share = await budget.TakeAsync(encoded.DecodedBytes, TimeSpan.FromMilliseconds(options.DecodeWaitMilliseconds), cancellation)
                ?? throw new RequestRejectedException(StatusCodes.Status503ServiceUnavailable,
                    $"the service is busy: the {budget.CapacityBytes / 1024 / 1024:N0} MB it keeps for decoded images are taken by other requests (this {encoded.Width}x{encoded.Height} image needs {encoded.DecodedBytes / 1024.0 / 1024.0:N0} MB); try again shortly",
                    RetryAfterSeconds);
            using var image = encoded.Decode();
            // Read before scoring: a Transform cursor disposes the images it was given when it is done.
            var (width, height) = (image.Width, image.Height);
            var scores = await scorer.ScoreAsync(image);
            return Results.Json(Prediction.From(scores, model.Labels, width, height));
        }
        catch (RequestRejectedException e)
        {
            return Error(e.StatusCode, e.Message, e.RetryAfterSeconds);
        }
        catch (Exception e) when (AllocationFailure(e) is { } failure)
        {
            // An allocation that failed for this request only: the process goes on, and the client may try again.
            logs.CreateLogger(typeof(ServiceHost)).LogWarning("out of memory for a request: {Message}", failure.Message);
            return Error(StatusCodes.Status503ServiceUnavailable, $"the service is short of memory ({failure.Message.TrimEnd('.')}); try again shortly", RetryAfterSeconds);
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
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The client went away; nobody reads an answer.
            return Results.Empty;
        }
    }

    // An allocation that failed, in e or the exceptions it wraps: OutOfMemoryException (the managed heap, or the
    // pixels the service allocates itself), or SkiaSharp's plain Exception for a bitmap that ML.NET's image steps
    // could not allocate.
    private static Exception? AllocationFailure(Exception? e) =>
        e is null ? null
        : e is OutOfMemoryException || e.GetType() == typeof(Exception) && e.Message.StartsWith("Unable to allocate pixels", StringComparison.Ordinal) ? e
        : AllocationFailure(e.InnerException);

    // Seconds a client told 503 should wait: about the time a few large images take to decode and score.
    private const int RetryAfterSeconds = 1;

    private static IResult Error(int statusCode, string message, int? retryAfterSeconds = null)
    {
        var json = Results.Json(new { error = message }, statusCode: statusCode);
        return retryAfterSeconds is { } seconds ? new WithRetryAfter(json, seconds) : json;
    }

    private sealed class WithRetryAfter(IResult inner, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(context);
        }
    }
}
