using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Parity;

/// <summary>
/// Agreement with the official PyTorch implementation on Fixtures/official-m0 (see its README): an M0
/// with random weights and far-from-identity BN statistics, its input batch, and the official outputs.
/// </summary>
public class OfficialM0ParityTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private void AssertClose(string name, string fixture, long[] shape, Tensor actual, float tolerance)
    {
        var difference = TestFiles.MaxAbsDiff(TestFiles.ReadFloat32(TestFiles.OfficialM0(fixture), shape), actual);
        output.WriteLine($"{name}: max abs difference {difference:G3} (tolerance {tolerance:G2})");
        Assert.True(difference <= tolerance, $"{name}: max abs difference {difference} > {tolerance}");
    }

    private static Tensor Input() => TestFiles.ReadFloat32(TestFiles.OfficialM0("input_2x3x224x224.f32"), 2, 3, 224, 224);

    private static LoadedCheckpoint LoadM0() => EfficientVitCheckpoint.Load(TestFiles.OfficialM0("efficientvit_m0.pth"));

    [Fact]
    public void Checkpoint_is_recognised_as_official_m0_at_224_with_1000_classes()
    {
        using var loaded = LoadM0();
        Assert.Equal(CheckpointFormat.OfficialPyTorch, loaded.Format);
        Assert.Equal("M0", loaded.Metadata.Variant);
        Assert.Equal(224, loaded.Model.Config.ImageSize);
        Assert.Equal(1000, loaded.Model.Config.NumClasses);
        Assert.False(loaded.Model.Config.Distillation);
    }

    [Fact]
    public void Logits_features_and_stage_outputs_match_the_official_model()
    {
        using var loaded = LoadM0();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = Input();
        var model = loaded.Model;

        AssertClose("logits", "m0_logits.f32", [2, 1000], model.forward(x), 1e-4f);
        AssertClose("features", "m0_features.f32", [2, 192], model.PooledFeatures(x), 1e-4f);

        AssertClose("patch_embed", "m0_stage0_patch_embed.f32", [2, 64, 14, 14], model.ForwardPatchEmbedding(x), 2e-4f);
        var stages = model.ForwardStages(x);
        AssertClose("blocks1", "m0_stage1_blocks1.f32", [2, 64, 14, 14], stages[0], 2e-4f);
        AssertClose("blocks2", "m0_stage2_blocks2.f32", [2, 128, 7, 7], stages[1], 2e-4f);
        AssertClose("blocks3", "m0_stage3_blocks3.f32", [2, 192, 4, 4], stages[2], 2e-4f);
    }

    [Fact]
    public void Fused_outputs_match_the_official_fused_model()
    {
        using var loaded = LoadM0();
        loaded.Model.FuseBatchNorm();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = Input();

        AssertClose("fused logits", "m0_fused_logits.f32", [2, 1000], loaded.Model.forward(x), 1e-4f);
        AssertClose("fused features", "m0_fused_features.f32", [2, 192], loaded.Model.PooledFeatures(x), 1e-4f);
    }
}
