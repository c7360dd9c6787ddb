using System.CommandLine;
using EfficientViT.Training.Commands;

var root = new RootCommand("EfficientViT for .NET: inspect checkpoints, export to ONNX.")
{
    InfoCommand.Create(),
    ExportCommand.Create(),
};
return root.Parse(args).Invoke();
