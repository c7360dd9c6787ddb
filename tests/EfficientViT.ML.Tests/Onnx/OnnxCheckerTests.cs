using EfficientViT.ML.Onnx;

namespace EfficientViT.ML.Tests.Onnx;

/// <summary>The checker helper rejects broken models, so that its passing elsewhere proves something.</summary>
public sealed class OnnxCheckerTests
{
    [Fact]
    public void A_node_consuming_an_undefined_input_fails_the_checker()
    {
        // The builder refuses such a node, so the model is written field by field: a Relu reading "missing".
        var writer = new ProtobufWriter();
        writer.WriteVarint(1, OnnxGraphBuilder.IrVersion); // ir_version
        writer.WriteMessage(7, graph => // graph
        {
            graph.WriteMessage(1, node => // node
            {
                node.WriteString(1, "missing"); // input
                node.WriteString(2, "y"); // output
                node.WriteString(4, "Relu"); // op_type
            });
            graph.WriteString(2, "broken"); // name
            graph.WriteMessage(11, input => WriteFloatValueInfo(input, "x")); // input
            graph.WriteMessage(12, output => WriteFloatValueInfo(output, "y")); // output
        });
        writer.WriteMessage(8, opset => opset.WriteVarint(2, 17)); // opset_import: default domain, version 17

        using var dir = new TempDirectory();
        string path = dir.File("broken.onnx");
        File.WriteAllBytes(path, writer.ToArray());

        var (exitCode, error) = OnnxChecker.Check(path);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("ValidationError", error);
        Assert.Contains("missing", error);
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => OnnxChecker.AssertValid(path));
    }

    [Fact]
    public void A_declared_output_shape_that_contradicts_inference_fails_the_full_check()
    {
        // The builder does not infer shapes; full_check's strict shape inference does.
        var builder = new OnnxGraphBuilder("wrong_shape");
        string x = builder.AddInput("x", OnnxElementType.Float, 2, 5);
        builder.AddNode("Relu", [x], "y");
        builder.AddOutput("y", OnnxElementType.Float, 2, 6);

        using var dir = new TempDirectory();
        string path = dir.File("wrong_shape.onnx");
        builder.Save(path);

        var (exitCode, error) = OnnxChecker.Check(path);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("InferenceError", error);
    }

    [Fact]
    public void The_same_graph_with_the_right_shape_passes()
    {
        var builder = new OnnxGraphBuilder("right_shape");
        string x = builder.AddInput("x", OnnxElementType.Float, 2, 5);
        builder.AddNode("Relu", [x], "y");
        builder.AddOutput("y", OnnxElementType.Float, 2, 5);

        using var dir = new TempDirectory();
        string path = dir.File("right_shape.onnx");
        builder.Save(path);

        OnnxChecker.AssertValid(path);
    }

    private static void WriteFloatValueInfo(ProtobufWriter valueInfo, string name)
    {
        valueInfo.WriteString(1, name);
        valueInfo.WriteMessage(2, type => type.WriteMessage(1, tensor => // TypeProto.tensor_type
        {
            tensor.WriteVarint(1, (int)OnnxElementType.Float); // elem_type
            tensor.WriteMessage(2, shape => shape.WriteMessage(1, dim => dim.WriteVarint(1, 3))); // shape [3]
        }));
    }
}
