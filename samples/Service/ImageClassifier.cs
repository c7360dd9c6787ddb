using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;

namespace EfficientViT.Service;

/// <summary>
/// A loaded classifier: its transformer, the class names of its score vector, and the two ways the
/// service scores with it (one <c>Transform</c> over many images, or one image per <c>PredictionEngine</c>).
/// </summary>
public sealed class ImageClassifier : IDisposable
{
    private readonly MLContext mlContext;
    private readonly SchemaDefinition inputDefinition = SchemaDefinition.Create(typeof(ImageInput));

    /// <summary>Checks that <paramref name="model"/> takes an image column and writes a score vector, and reads its class names.</summary>
    /// <param name="mlContext">The context the model was loaded or fitted in.</param>
    /// <param name="model">The classifier.</param>
    /// <param name="source">Where the model comes from (a file path), for messages.</param>
    /// <exception cref="ModelLoadException">The model does not take an 'Image' column of images or gives no 'Score' vector.</exception>
    public ImageClassifier(MLContext mlContext, ITransformer model, string source)
    {
        this.mlContext = mlContext;
        Model = model;
        Source = source;
        DataViewSchema output;
        try
        {
            output = model.GetOutputSchema(mlContext.Data.LoadFromEnumerable(Array.Empty<ImageInput>(), inputDefinition).Schema);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new ModelLoadException($"model '{source}' does not take images in a column '{ImageInput.ColumnName}': {e.Message}", e);
        }
        var score = output.GetColumnOrNull(ScoreOutput.ColumnName);
        if (score?.Type is not VectorDataViewType { ItemType: var item, Size: > 0 } vector || item != NumberDataViewType.Single)
            throw new ModelLoadException($"model '{source}' gives no '{ScoreOutput.ColumnName}' column of class scores (a known-size vector of Single); its output columns are {string.Join(", ", output.Select(c => $"'{c.Name}' ({c.Type})"))}.");
        Labels = ClassNames(score.Value, vector.Size);
    }

    /// <summary>The transformer the service scores with.</summary>
    public ITransformer Model { get; }

    /// <summary>Where the model comes from.</summary>
    public string Source { get; }

    /// <summary>The class of each score, from the score column's slot names (the training labels), else "0", "1", ...</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Loads a model zip (see <see cref="ModelLoading"/>) with the service's default threads.</summary>
    public static ImageClassifier Load(string path) => Load(path, new ServiceOptions().RowThreads);

    /// <summary>Loads a model zip (see <see cref="ModelLoading"/>); an image scored alone uses <paramref name="rowThreads"/> ONNX Runtime threads.</summary>
    public static ImageClassifier Load(string path, int rowThreads)
    {
        var mlContext = new MLContext(seed: 0);
        return new ImageClassifier(mlContext, ModelLoading.Load(mlContext, path, rowThreads), path);
    }

    /// <summary>Scores <paramref name="images"/> with one <c>Transform</c> call; the scores come back in their order.</summary>
    /// <remarks>ML.NET's image transforms dispose the images they read once the cursor is done: the images cannot be used afterwards.</remarks>
    public float[][] ScoreBatch(IReadOnlyList<MLImage> images)
    {
        var rows = mlContext.Data.LoadFromEnumerable(images.Select(image => new ImageInput { Image = image }), inputDefinition);
        var scored = Model.Transform(rows);
        var scores = new float[images.Count][];
        // One cursor asked for as a set of one: GetRowCursor would split a few rows over worker threads and
        // consolidate them again, which costs more than scoring them on this thread.
        var cursors = scored.GetRowCursorSet([scored.Schema[ScoreOutput.ColumnName]], 1);
        if (cursors.Length != 1)
            throw new InvalidOperationException($"the model's output gave {cursors.Length} cursors where one was asked for");
        using var cursor = cursors[0];
        var getter = cursor.GetGetter<VBuffer<float>>(scored.Schema[ScoreOutput.ColumnName]);
        var buffer = default(VBuffer<float>);
        var row = 0;
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            scores[row++] = buffer.DenseValues().ToArray();
        }
        if (row != images.Count)
            throw new InvalidOperationException($"the model gave {row} rows of scores for {images.Count} images");
        return scores;
    }

    /// <summary>A new single-image engine (not thread-safe: one per thread at a time).</summary>
    public PredictionEngine<ImageInput, ScoreOutput> CreateEngine() =>
        mlContext.Model.CreatePredictionEngine<ImageInput, ScoreOutput>(Model, inputSchemaDefinition: inputDefinition);

    /// <summary>
    /// Disposes the model: its ONNX Runtime sessions, and the copy of each network ML.NET wrote to the temporary
    /// folder when it loaded the zip. Engines made from it cannot be used afterwards.
    /// </summary>
    public void Dispose() => (Model as IDisposable)?.Dispose();

    private static string[] ClassNames(DataViewSchema.Column score, int count)
    {
        if (score.HasSlotNames())
        {
            var names = default(VBuffer<ReadOnlyMemory<char>>);
            score.GetSlotNames(ref names);
            var dense = names.DenseValues().Select(n => n.ToString()).ToArray();
            if (dense.Length == count && dense.All(n => n.Length > 0))
                return dense;
        }
        return Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }
}
