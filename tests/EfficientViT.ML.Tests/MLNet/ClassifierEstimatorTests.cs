using EfficientViT.ML.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>The trainer before any training: its options, its environment and the schema it promises.</summary>
public class ClassifierEstimatorTests
{
    [Fact]
    public void The_caller_s_options_are_not_changed()
    {
        var options = new EfficientVitClassifierOptions { LabelColumnName = "Label", ImageColumnName = "Image", Epochs = 3 };
        new MLContext().MulticlassClassification.Trainers.EfficientVit("Species", "Photo", options);
        Assert.Equal("Label", options.LabelColumnName);
        Assert.Equal("Image", options.ImageColumnName);
    }

    [Fact]
    public void The_chain_is_built_with_the_caller_s_MLContext()
    {
        var mlContext = new MLContext();
        var environment = CatalogEnvironment.Of(mlContext.MulticlassClassification.Trainers);
        Assert.NotNull(environment);
        Assert.NotNull(CatalogEnvironment.TransformsOf(environment));
    }

    // SchemaShape.Create is internal to ML.NET; estimators receive shapes built by ML.NET's own chains.
    private static SchemaShape ShapeOf(DataViewSchema schema) =>
        (SchemaShape)typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .Invoke(null, [schema])!;

    [Fact]
    public void The_output_schema_adds_score_and_predicted_label()
    {
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(new[] { new ImageRow { ImagePath = "unused.png", Label = "a" } });
        var input = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath))
            .Append(mlContext.Transforms.Conversion.MapValueToKey("Label")).Fit(data).Transform(data);

        var shape = mlContext.MulticlassClassification.Trainers.EfficientVit().GetOutputSchema(ShapeOf(input.Schema));

        Assert.Contains(shape, c => c.Name == "Score" && c.ItemType == NumberDataViewType.Single && c.Kind == SchemaShape.Column.VectorKind.Vector);
        Assert.Contains(shape, c => c.Name == "PredictedLabel" && c.IsKey && c.Kind == SchemaShape.Column.VectorKind.Scalar);
        Assert.DoesNotContain(shape, c => c.Name.StartsWith("EfficientVit_", StringComparison.Ordinal));
    }
}
