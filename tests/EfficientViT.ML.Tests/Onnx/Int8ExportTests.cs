using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Onnx;

public class Int8ExportTests
{
    // The official M0 and its two fixture images, with their mirror images: four calibration images.
    private static (LoadedCheckpoint Loaded, Tensor Images, float[][] Calibration) OfficialM0()
    {
        var loaded = EfficientVitCheckpoint.Load(TestFiles.OfficialM0("efficientvit_m0.pth"));
        var images = TestFiles.ReadFloat32(TestFiles.OfficialM0("input_2x3x224x224.f32"), 2, 3, 224, 224);
        using var mirrored = images.flip(3);
        using var all = cat([images, mirrored], 0);
        var calibration = Enumerable.Range(0, 4).Select(i => { using var image = all[i]; return image.contiguous().data<float>().ToArray(); }).ToArray();
        return (loaded, images, calibration);
    }

    private static OnnxExportOptions Int8Options(Int8Calibration calibration) =>
        new() { Int8 = new OnnxInt8Options { Calibration = calibration } };

    [Fact]
    public void Int8_features_stay_close_to_float_ones()
    {
        var (loaded, images, calibration) = OfficialM0();
        using var _ = loaded;
        using var __ = images;
        var floatOutputs = OnnxRuntimeRunner.Run(EfficientVitOnnxExporter.ToBytes(loaded.Model), ("input", images));
        foreach (var method in Enum.GetValues<Int8CalibrationMethod>())
        {
            var int8 = Int8Calibrator.Calibrate(loaded.Model, calibration, method: method);
            var int8Outputs = OnnxRuntimeRunner.Run(EfficientVitOnnxExporter.ToBytes(loaded.Model, Int8Options(int8)), ("input", images));
            using var cosine = nn.functional.cosine_similarity(floatOutputs["features"], int8Outputs["features"], dim: 1);
            var values = cosine.data<float>().ToArray();
            Console.WriteLine($"{method}: cosine {string.Join(", ", values)}");
            Assert.All(values, v => Assert.True(v >= 0.95f, $"{method}: cosine {v}"));
        }
    }
}
