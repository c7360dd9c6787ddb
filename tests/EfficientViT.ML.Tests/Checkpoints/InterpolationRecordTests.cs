using System.Text.Json.Nodes;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Preprocessing;
using EfficientViT.ML.Training;

namespace EfficientViT.ML.Tests.Checkpoints;

/// <summary>
/// The interpolation in a checkpoint's record: written by name, read back; absent (a file of an earlier version) it
/// reads as null and stays absent when such a record is saved again, so each path keeps resizing as it did.
/// </summary>
public class InterpolationRecordTests
{
    private static CheckpointMetadata Record(ImageInterpolation? interpolation) =>
        CheckpointMetadata.FromConfig(EfficientVitConfig.For(EfficientVitVariant.M0, 64, 10))
            .WithPreprocessing(ImagePreprocessing.FashionMnist(64) with { Interpolation = interpolation }, Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray());

    [Theory]
    [InlineData(ImageInterpolation.Bicubic, "bicubic")]
    [InlineData(ImageInterpolation.Bilinear, "bilinear")]
    public void The_interpolation_is_written_by_name_and_read_back(ImageInterpolation interpolation, string name)
    {
        var json = Record(interpolation).ToJson();

        Assert.Equal(name, JsonNode.Parse(json)!["interpolation"]!.GetValue<string>());
        Assert.Equal(interpolation, CheckpointMetadata.FromJson(json, "test").Preprocessing.Interpolation);
    }

    [Fact]
    public void A_record_of_an_earlier_version_reads_as_unrecorded_and_is_saved_so()
    {
        var node = JsonNode.Parse(Record(ImageInterpolation.Bicubic).ToJson())!.AsObject();
        node.Remove("interpolation");

        var old = CheckpointMetadata.FromJson(node.ToJsonString(), "old.safetensors");

        Assert.Null(old.Preprocessing.Interpolation);
        Assert.Equal(ImageInterpolation.Bicubic, old.Preprocessing.GraphInterpolation);
        Assert.False(JsonNode.Parse(old.ToJson())!.AsObject().ContainsKey("interpolation"));
        Assert.Null(CheckpointMetadata.FromJson(old.ToJson(), "again").Preprocessing.Interpolation);
    }

    // The official and timm weights record nothing and take the evaluation protocol they were published with.
    [Fact]
    public void Official_weights_are_evaluated_bicubic()
    {
        var official = CheckpointMetadata.ForImageNet(EfficientVitConfig.For(EfficientVitVariant.M0), "official");
        Assert.Equal(ImageInterpolation.Bicubic, official.Preprocessing.Interpolation);
        Assert.Equal(ImageInterpolation.Bicubic, new ImageTransform(official.Preprocessing, train: false).Preprocessing.Interpolation);
    }

    [Fact]
    public void An_unknown_interpolation_is_refused_with_its_name()
    {
        var node = JsonNode.Parse(Record(ImageInterpolation.Bicubic).ToJson())!.AsObject();
        node["interpolation"] = "lanczos";

        var error = Assert.Throws<CheckpointException>(() => CheckpointMetadata.FromJson(node.ToJsonString(), "odd.safetensors"));

        Assert.Contains("odd.safetensors", error.Message);
        Assert.Contains("'interpolation' is 'lanczos'", error.Message);
    }

    // Fine-tuning keeps the checkpoint's interpolation (an earlier version's: unrecorded, so the run resizes as it did);
    // TrainingSetupOptions.Interpolation chooses another.
    [Theory]
    [InlineData(null, null)]
    [InlineData(ImageInterpolation.Bilinear, ImageInterpolation.Bilinear)]
    public void A_run_from_an_earlier_version_s_checkpoint_keeps_its_resize_unless_told(ImageInterpolation? chosen, ImageInterpolation? expected)
    {
        using var dir = new TempDirectory();
        var path = dir.File("old.safetensors");
        using (var model = EfficientVit.Create(EfficientVitVariant.M0, 64, 10))
            EfficientVitCheckpoint.Save(model, path, Record(null));
        var train = new InMemoryImageDataset([new ImageSample(new byte[28 * 28], 28, 28, 1, 0, "blank")], ["a"]);

        using var setup = TrainingSetup.Prepare(new TrainingSetupOptions { Checkpoint = path, Interpolation = chosen }, train);

        Assert.Equal(expected, setup.EvalTransform.Preprocessing.Interpolation);
        Assert.Equal(expected, setup.Metadata.Preprocessing.Interpolation);
    }
}
