"""The one image codec: sensor_msgs/Image and CompressedImage bytes <-> numpy arrays, no ROS.

`encodings` holds the one encoding table and the colour conversions, `raw` reads and writes the
fields of a raw `Image` (rclpy's or rosbags' message objects alike), `compressed` decodes jpeg and
png. The node, the bag reader and writer, the live evaluation and the test harness all use these.
"""
