using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>Which rows before an unreadable image a reader gets, by how it reads (what docs/guide/mlnet.md states).</summary>
public class BadImageRowsTests(ITestOutputHelper output)
{
    private const int BadRow = 20;

    private static (IDataView Features, EfficientVitFeaturizerTransformer Featurizer) FeaturizeWithABadRow(TempDirectory dir, MLContext mlContext, EfficientVit model)
    {
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 12, size: 40, seed: 4).Take(BadRow + 4).ToList();
        File.WriteAllBytes(rows[BadRow].ImagePath, [1, 2, 3]);
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var images = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath)).Fit(data).Transform(data);
        var featurizer = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { InputColumnName = "Image", Model = model, BatchSize = 8 }).Fit(images);
        return (featurizer.Transform(images), featurizer);
    }

    private static int CountUntilError(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        var features = default(VBuffer<float>);
        var served = 0;
        var error = Assert.ThrowsAny<Exception>(() =>
        {
            while (cursor.MoveNext())
            {
                getter(ref features);
                served++;
            }
        });
        Assert.Contains(TestFiles.Messages(error), m => m.Contains($"row {BadRow}", StringComparison.Ordinal));
        return served;
    }

    [Fact]
    public void A_cursor_set_of_one_serves_every_row_before_the_bad_one_and_the_usual_readers_may_not()
    {
        using var dir = new TempDirectory();
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 0);
        var mlContext = new MLContext();
        var (features, featurizer) = FeaturizeWithABadRow(dir, mlContext, model);
        using (featurizer)
        {
            var column = features.Schema["Features"];
            // GetRowCursorSet(..., 1) is a plain serial cursor: the rows before the bad one all arrive.
            using (var serial = features.GetRowCursorSet([column], 1)[0])
                Assert.Equal(BadRow, CountUntilError(serial, column));
            // GetRowCursor (what GetColumn, CreateEnumerable and trainers use) may split the rows over
            // ML.NET's worker threads, which hand them over in blocks: an error loses its block's rows.
            using var usual = features.GetRowCursor([column]);
            var served = CountUntilError(usual, column);
            output.WriteLine($"GetRowCursor served {served} of the {BadRow} rows before the bad one");
            Assert.InRange(served, 0, BadRow);
        }
    }
}
