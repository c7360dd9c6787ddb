using EfficientViT.ML.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.MLNet;

public class FeaturizerSchemaTests
{
    private static readonly string CheckpointPath = TestFiles.OfficialM0("efficientvit_m0.pth");

    private sealed class PixelRow
    {
        [VectorType(3, 224, 224)]
        public float[] Pixels { get; set; } = new float[3 * 224 * 224];
    }

    private sealed class VariablePixelRow
    {
        public float[] Pixels { get; set; } = new float[3 * 224 * 224];
    }

    private sealed class WrongSizeRow
    {
        [VectorType(100)]
        public float[] Pixels { get; set; } = new float[100];
    }

    private sealed class TextRow
    {
        public string Pixels { get; set; } = "";
    }

    private sealed class ScalarRow
    {
        public float Pixels { get; set; }
    }

    private sealed class ByteRow
    {
        [VectorType(16)]
        public byte[] Pixels { get; set; } = new byte[16];
    }

    // SchemaShape.Create is internal to ML.NET; estimators receive shapes built by ML.NET's own chains.
    private static SchemaShape ShapeOf(DataViewSchema schema) =>
        (SchemaShape)typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .Invoke(null, [schema])!;

    [Fact]
    public void Image_column_gives_a_192_float_vector()
    {
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(new[] { new ImageRow { ImagePath = "unused.png" } });
        var withImages = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath)).Fit(data).Transform(data);
        var estimator = mlContext.Transforms.EfficientVitFeaturize("Features", "Image", CheckpointPath);

        var shape = estimator.GetOutputSchema(ShapeOf(withImages.Schema));
        Assert.Contains(shape, c => c.Name == "Features" && c.ItemType == NumberDataViewType.Single);
        var schema = estimator.Fit(withImages).GetOutputSchema(withImages.Schema);
        Assert.Equal(192, ((VectorDataViewType)schema["Features"].Type).Size);
        Assert.Equal(new[] { 192 }, ((VectorDataViewType)schema["Features"].Type).Dimensions.ToArray());
        Assert.Equal(192, estimator.FeatureSize);
    }

    [Fact]
    public void Known_size_pixel_vector_is_accepted_and_matches_torchsharp()
    {
        var mlContext = new MLContext();
        using var scope = TorchSharp.torch.NewDisposeScope();
        var x = TestFiles.ReadFloat32(TestFiles.OfficialM0("input_2x3x224x224.f32"), 2, 3, 224, 224);
        var rows = Enumerable.Range(0, 2).Select(i => new PixelRow { Pixels = x[i].flatten().data<float>().ToArray() }).ToList();
        var data = mlContext.Data.LoadFromEnumerable(rows);

        var features = mlContext.Transforms.EfficientVitFeaturize("Features", "Pixels", CheckpointPath).Fit(data).Transform(data)
            .GetColumn<float[]>("Features").ToList();

        var expected = TestFiles.ReadFloat32(TestFiles.OfficialM0("m0_features.f32"), 2, 192);
        for (var i = 0; i < 2; i++)
            Assert.True(TestFiles.MaxAbsDiff(expected[i], TorchSharp.torch.tensor(features[i])) <= 1e-4f);
    }

    [Fact]
    public void Variable_size_pixel_vector_is_accepted()
    {
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(new[] { new VariablePixelRow() });
        var features = mlContext.Transforms.EfficientVitFeaturize("Features", "Pixels", CheckpointPath).Fit(data).Transform(data)
            .GetColumn<float[]>("Features").Single();
        Assert.Equal(192, features.Length);
    }

    // Row 6 is in the second batch of 4: its number counts the rows of earlier batches.
    [Fact]
    public void A_variable_size_row_of_the_wrong_length_is_named()
    {
        var mlContext = new MLContext();
        var rows = Enumerable.Range(0, 9).Select(i => new VariablePixelRow { Pixels = new float[i == 6 ? 12 : 3 * 224 * 224] }).ToArray();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var features = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
        {
            InputColumnName = "Pixels", OutputColumnName = "Features", ModelPath = CheckpointPath, BatchSize = 4, Threads = 2,
        }).Fit(data).Transform(data);

        var error = Assert.ThrowsAny<Exception>(() => features.GetColumn<float[]>("Features").ToList());
        var messages = TestFiles.Messages(error);
        Assert.Contains(messages, m => m.Contains("row 6 of column 'Pixels' has 12 values; the model takes 150528 (3 x 224 x 224)", StringComparison.Ordinal));
    }

    public static TheoryData<string, Func<MLContext, IDataView>, string> RejectedInputs() => new()
    {
        { "text", ml => ml.Data.LoadFromEnumerable(new[] { new TextRow() }), "String" },
        { "scalar", ml => ml.Data.LoadFromEnumerable(new[] { new ScalarRow() }), "Single" },
        { "wrong size", ml => ml.Data.LoadFromEnumerable(new[] { new WrongSizeRow() }), "Vector<Single, 100>" },
        { "bytes", ml => ml.Data.LoadFromEnumerable(new[] { new ByteRow() }), "Byte" },
    };

    [Theory]
    [MemberData(nameof(RejectedInputs))]
    public void Other_column_types_are_rejected_naming_column_type_and_accepted_types(string _, Func<MLContext, IDataView> makeData, string foundType)
    {
        var mlContext = new MLContext();
        var data = makeData(mlContext);
        var estimator = mlContext.Transforms.EfficientVitFeaturize("Features", "Pixels", CheckpointPath);

        var fitError = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(data));
        Assert.Contains("'Pixels'", fitError.Message);
        Assert.Contains(foundType, fitError.Message);
        Assert.Contains("MLImage", fitError.Message);
        Assert.Contains("150528", fitError.Message);
        if (foundType != "Vector<Single, 100>")   // SchemaShape carries no vector sizes
            Assert.Contains("'Pixels'", Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(ShapeOf(data.Schema))).Message);
    }

    [Fact]
    public void Missing_column_lists_the_columns_there_are()
    {
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(new[] { new ScalarRow() });
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => mlContext.Transforms.EfficientVitFeaturize("Features", "Photo", CheckpointPath).Fit(data));
        Assert.Contains("'Photo' not found", error.Message);
        Assert.Contains("'Pixels'", error.Message);
    }

    [Fact]
    public void A_model_file_that_is_not_a_checkpoint_is_named()
    {
        using var dir = new TempDirectory();
        var path = dir.File("model.pth");
        File.WriteAllText(path, "not a model");
        var error = Assert.Throws<EfficientViT.ML.Checkpoints.CheckpointException>(() => new MLContext().Transforms.EfficientVitFeaturize("F", "Image", path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Options_are_checked()
    {
        var transforms = new MLContext().Transforms;
        Assert.Throws<ArgumentException>(() => transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions()));
        Assert.Throws<ArgumentOutOfRangeException>(() => transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { ModelPath = CheckpointPath, BatchSize = 0 }));
    }
}
