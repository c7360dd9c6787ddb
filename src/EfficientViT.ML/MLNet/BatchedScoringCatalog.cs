using EfficientViT.ML.MLNet;

// Like ML.NET's own extension catalogs, in Microsoft.ML: `using Microsoft.ML;` is all a user writes.
namespace Microsoft.ML;

/// <summary>Loading saved EfficientViT models for serving.</summary>
public static class BatchedScoringCatalog
{
    /// <summary>
    /// Loads a model zip saved with <c>mlContext.Model.Save</c> as <see cref="ModelOperationsCatalog.Load(string, out DataViewSchema)"/>
    /// does, then puts batched scoring in place of its EfficientViT steps (featurizers and classifiers): <c>Transform</c>
    /// scores <see cref="BatchedScoringOptions.BatchSize"/> images per ONNX Runtime call, as the fitted pipeline did, and a
    /// <c>PredictionEngine</c> scores one image through buffers bound once. The features and scores are exactly those of the
    /// plain load. Steps it does not recognise stay as ML.NET loaded them; saving the result writes the zip as it was.
    /// </summary>
    /// <param name="catalog">The model operations catalog (<c>mlContext.Model</c>).</param>
    /// <param name="filePath">The model zip.</param>
    /// <param name="inputSchema">The input schema saved with the model, or null.</param>
    /// <returns>The loaded model; dispose it (<see cref="IDisposable"/>) to release its ONNX Runtime sessions and threads.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a model zip ML.NET can load.</exception>
    /// <example>
    /// <code>
    /// var mlContext = new MLContext();
    /// var model = mlContext.Model.LoadWithBatchedScoring("model.zip", out var inputSchema);
    /// // Many images: batched as the fitted pipeline was.
    /// var features = model.Transform(images).GetColumn&lt;float[]&gt;("Features");
    /// // One image per request:
    /// using var engine = mlContext.Model.CreatePredictionEngine&lt;ImageInput, ImagePrediction&gt;(model);
    /// var prediction = engine.Predict(new ImageInput { ImagePath = "cat.jpg" });
    /// (model as IDisposable)?.Dispose();
    /// </code>
    /// </example>
    public static ITransformer LoadWithBatchedScoring(this ModelOperationsCatalog catalog, string filePath, out DataViewSchema inputSchema) =>
        catalog.LoadWithBatchedScoring(filePath, new BatchedScoringOptions(), out inputSchema);

    /// <summary>Loads a model zip from a stream, with batched scoring of its EfficientViT steps (see <see cref="LoadWithBatchedScoring(ModelOperationsCatalog, string, out DataViewSchema)"/>).</summary>
    /// <param name="catalog">The model operations catalog (<c>mlContext.Model</c>).</param>
    /// <param name="stream">The model zip; read, not closed.</param>
    /// <param name="inputSchema">The input schema saved with the model, or null.</param>
    public static ITransformer LoadWithBatchedScoring(this ModelOperationsCatalog catalog, Stream stream, out DataViewSchema inputSchema) =>
        catalog.LoadWithBatchedScoring(stream, new BatchedScoringOptions(), out inputSchema);

    /// <summary>Loads a model zip with batched scoring of its EfficientViT steps, with a batch size and threads of your choice.</summary>
    /// <param name="catalog">The model operations catalog (<c>mlContext.Model</c>).</param>
    /// <param name="filePath">The model zip.</param>
    /// <param name="options">Batch size and threads.</param>
    /// <param name="inputSchema">The input schema saved with the model, or null.</param>
    public static ITransformer LoadWithBatchedScoring(this ModelOperationsCatalog catalog, string filePath, BatchedScoringOptions options, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(filePath);
        if (!File.Exists(filePath))
            throw new FileNotFoundException($"LoadWithBatchedScoring: model file '{filePath}' not found.", filePath);
        using var stream = File.OpenRead(filePath);
        return Load(catalog, stream, $"'{filePath}'", options, out inputSchema);
    }

    /// <summary>Loads a model zip from a stream with batched scoring of its EfficientViT steps, with a batch size and threads of your choice.</summary>
    /// <param name="catalog">The model operations catalog (<c>mlContext.Model</c>).</param>
    /// <param name="stream">The model zip; read, not closed.</param>
    /// <param name="options">Batch size and threads.</param>
    /// <param name="inputSchema">The input schema saved with the model, or null.</param>
    public static ITransformer LoadWithBatchedScoring(this ModelOperationsCatalog catalog, Stream stream, BatchedScoringOptions options, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return Load(catalog, stream, "the stream", options, out inputSchema);
    }

    private static ITransformer Load(ModelOperationsCatalog catalog, Stream stream, string source, BatchedScoringOptions options, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        if (options.BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "LoadWithBatchedScoring: BatchSize must be at least 1.");
        if (options.Threads is < 1 || options.RowThreads is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "LoadWithBatchedScoring: Threads and RowThreads must be at least 1 when set.");
        if (options.MaxOnnxModelBytes < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxOnnxModelBytes, "LoadWithBatchedScoring: MaxOnnxModelBytes must be at least 1.");
        var environment = CatalogEnvironment.Of(catalog);
        var resolved = options.Copy();
        resolved.Device = OnnxDevice.Resolve(options.GpuDeviceId, options.FallbackToCpu, environment).Usable();
        // Models whose images are encoded bytes, and classifiers, name this library's custom mappings; a process that loads with it has them.
        environment.ComponentCatalog.RegisterAssembly(typeof(EncodedImageDecoder).Assembly);
        // The zip is read twice: here for the networks of its ONNX steps, checked before ML.NET inflates or writes them, then by ML.NET for the chain.
        var start = stream.CanSeek ? stream.Position : 0;
        var zip = stream.CanSeek ? stream : Buffered(stream);
        Dictionary<string, byte[]> networks;
        try
        {
            networks = ModelZipNetworks.Read(zip, source, options.MaxOnnxModelBytes);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"LoadWithBatchedScoring: {e.Message}", e);
        }
        var loadStarted = DateTime.UtcNow;
        ITransformer loaded;
        try
        {
            loaded = catalog.Load(zip, out inputSchema);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LeftNetworkCopies.Delete(CatalogEnvironment.TempFolderOf(environment), networks.Values, loadStarted);
            var cause = Cause(e);
            // A failure to read the file is not the zip's; anything else ML.NET meets while loading is.
            if (cause is UnauthorizedAccessException or IOException and not EndOfStreamException)
                throw;
            var refused = ModelZipNetworks.RefusedByOnnxRuntime(networks, source);
            throw new InvalidDataException($"LoadWithBatchedScoring: {refused ?? $"{source} is not a model zip ML.NET can load: {OneLine(cause.Message)}"}", cause);
        }
        zip.Position = start;
        try
        {
            return BatchedScoring.Replace(loaded, (_, folder) => networks.GetValueOrDefault(folder), resolved);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or InvalidOperationException or ArgumentException)
        {
            (loaded as IDisposable)?.Dispose();
            throw new InvalidDataException($"LoadWithBatchedScoring: {source}: {e.Message}", e);
        }
    }

    // ML.NET builds each step through reflection and wraps a step's error twice ("Error during class instantiation",
    // then TargetInvocationException); the innermost says what is wrong.
    private static Exception Cause(Exception error) => error.InnerException is { } inner ? Cause(inner) : error;

    // ONNX Runtime's messages span lines (a stack of its own); the first says what is wrong.
    private static string OneLine(string message) => message.Split('\n', 2)[0].TrimEnd('\r');

    private static MemoryStream Buffered(Stream stream)
    {
        var copy = new MemoryStream();
        stream.CopyTo(copy);
        copy.Position = 0;
        return copy;
    }
}
